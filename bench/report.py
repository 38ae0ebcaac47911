"""Turns the raw lines of bench/run.sh into a results file and a Markdown report.

  report.py <raw.jsonl> <results.json> <results.md>
"""
import json
import sys

raw, json_out, md_out = sys.argv[1:4]
rows = [json.loads(line) for line in open(raw) if line.strip()]
json.dump(rows, open(json_out, "w"), indent=1)

machine = next((r for r in rows if r["kind"] == "machine"), {})
# The ceiling at the start of the run, and the one measured right before each PostgreSQL
# get_by_id run (which that run is judged against).
pgbench = {r["connections"]: r["tps"] for r in rows if r["kind"] == "pgbench" and "size" not in r}
pgbench_next_to = {(r["size"], r["connections"]): r["tps"] for r in rows if r["kind"] == "pgbench" and "size" in r}
# The INSERT of POST /companies run by pgbench, right before each PostgreSQL `create` run.
insert_ceiling = {(r["size"], r["connections"]): r["tps"] for r in rows if r["kind"] == "pgbench_insert"}
insert_cpu = {(r["size"], r["connections"]): r["cpu"] for r in rows if r["kind"] == "pgbench_insert" and "cpu" in r}
# The statement of list_region_by_name run by pgbench, right before each PostgreSQL run of it,
# and the whole transaction of POST /companies, right before each `create` run.
list_ceiling = {(r["size"], r["connections"]): r for r in rows if r["kind"] == "pgbench_list"}
create_ceiling = {(r["size"], r["connections"]): r for r in rows if r["kind"] == "pgbench_create"}


def cpu_cell(cpu):
    """CPU per request in µs: the service / PostgreSQL / the rest (load generator, kernel)."""
    if not cpu:
        return ""
    return f"{cpu['service_us']:,.0f} / {cpu['postgres_us']:,.0f} / {cpu['other_us']:,.0f}"


def ceiling(size, connections):
    return pgbench_next_to.get((size, connections), pgbench.get(connections))
http = [r for r in rows if r["kind"] == "http"]
servers = {(r["db"], r["size"]): r for r in rows if r["kind"] == "server"}
seeds = {(r["db"], r["size"]): r["ms"] for r in rows if r["kind"] == "seed"}
logs = {(r["db"], r["size"]): r for r in rows if r["kind"] == "log"}


def find(db, size, workload, connections):
    for r in http:
        if (r["db"], r["size"], r["workload"], r["connections"]) == (db, size, workload, connections):
            return r["result"]
    return None


lines = [
    "# Benchmark results",
    "",
    f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
    f"{machine.get('mem_mib', '?')} MiB, Linux {machine.get('kernel', '?')}; {machine.get('binary', '')}"
    + "".join(f", {k}={v}" for k, v in machine.get("settings", {}).items()) + ".",
    "Load from wrk on the same machine (2 threads); the service in a session of its own, warmed up",
    "before the runs. Ratios: to `pgbench -S` at the same number of",
    "connections (the database's own point-select rate, measured right before each PostgreSQL",
    "`get_by_id` run), for `create` to pgbench running the same INSERT (bench/insert_ceiling.sql,",
    "measured right before it) and the POST's whole transaction (bench/create_ceiling.sql), for",
    "`list_region_by_name` to pgbench running its statement",
    "(bench/list_ceiling.sql, right before it), and to `GET /health/live` (a trivial handler behind the same",
    "middleware: the server's ceiling).",
    "",
]
if pgbench:
    lines += ["| pgbench -S at the start | " + " | ".join(f"{c} connections: {tps:,.0f} tps" for c, tps in sorted(pgbench.items())) + " |", "|---|" + "---|" * len(pgbench), ""]

for (db, size), server in servers.items():
    lines += [
        f"## {db}, {size:,} companies",
        "",
        f"Seeded in {seeds.get((db, size), 0) / 1000:.1f} s; ready {server['ready_ms']} ms after start; "
        f"RSS idle {server['idle_rss_kib'] / 1024:.1f} MiB, peak {server['peak_rss_kib'] / 1024:.1f} MiB; "
        f"5xx answers: {logs.get((db, size), {}).get('status_5xx', '?')}, "
        f"'database is locked': {logs.get((db, size), {}).get('database_locked', '?')}.",
        "",
        "| workload | conns | req/s | p50 ms | p99 ms | max ms | non-2xx | socket errors | vs live | vs PostgreSQL alone (pgbench) | CPU µs/req: service / PostgreSQL / rest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in http:
        if (r["db"], r["size"]) != (db, size):
            continue
        res, c = r["result"], r["connections"]
        live = find(db, size, "live", c)
        vs_live = f"{res['rps'] / live['rps']:.0%}" if live and r["workload"] != "live" else ""
        pg = ceiling(size, c) if db == "postgres" and r["workload"].startswith("get_by_id") else None
        vs_pg = f"{res['rps'] / pg:.0%} of {pg:,.0f}" if pg else ""
        inserts = insert_ceiling.get((size, c)) if db == "postgres" and r["workload"] == "create" else None
        if inserts:
            vs_pg = f"{res['rps'] / inserts:.0%} of pgbench INSERT {inserts:,.0f}"
            spent = insert_cpu.get((size, c))
            if spent:
                vs_pg += f" (its CPU µs/INSERT: {cpu_cell(spent)})"
            whole = create_ceiling.get((size, c))
            if whole:
                vs_pg += (f"; {res['rps'] / whole['tps']:.0%} of pgbench's whole POST transaction "
                          f"{whole['tps']:,.0f} (its CPU: {cpu_cell(whole.get('cpu'))})")
        lists = list_ceiling.get((size, c)) if db == "postgres" and r["workload"] == "list_region_by_name" else None
        if lists:
            vs_pg = (f"{res['rps'] / lists['tps']:.0%} of pgbench's list {lists['tps']:,.0f}, its p99 "
                     f"{lists['p99_ms']:.1f} ms (its CPU µs/list: {cpu_cell(lists.get('cpu'))})")
        lines.append(
            f"| {r['workload']} | {c} | {res['rps']:,.0f} | {res['p50_ms']:.2f} | {res['p99_ms']:.2f} | "
            f"{res['max_ms']:.1f} | {res['non_2xx']} | {res['socket_errors']} | {vs_live} | {vs_pg} | {cpu_cell(r.get('cpu'))} |"
        )
    lines.append("")

# The same point read without the service, through each driver (examples/driver_ceiling.rs).
drivers = [r for r in rows if r["kind"] == "driver"]
if drivers:
    lines += [
        "## The GET by id read without the service, by database driver",
        "",
        "`examples/driver_ceiling.rs` serves the same point read (four columns, no authentication,",
        "no logging) through the blocking driver the service uses (diesel, one hop to a blocking",
        "thread per request), through a pipelining async one (tokio-postgres on the HTTP",
        "workers), and through diesel-async's `AsyncPgConnection` from a deadpool pool shared by",
        "the workers (`diesel-async`), one pool per worker (`diesel-async-per-worker`), or one",
        "connection per worker that pipelines its requests' reads (`diesel-async-pipelined`). All",
        "drivers and pgbench run without TLS here (the async ones have none).",
        "",
        "| driver | conns | req/s | p50 ms | p99 ms | max ms | non-2xx | vs pgbench -S without TLS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in drivers:
        res = r["result"]
        lines.append(
            f"| {r['driver']} | {r['connections']} | {res['rps']:,.0f} | {res['p50_ms']:.2f} | {res['p99_ms']:.2f} | "
            f"{res['max_ms']:.1f} | {res['non_2xx'] + res['socket_errors']} | {res['rps'] / r['pgbench_tps']:.0%} of {r['pgbench_tps']:,.0f} |"
        )
    lines.append("")

# The targets of issue #7, judged on what this run measured.
checks = []
sizes = sorted({s for (_, s) in servers})
top = max((r["connections"] for r in http), default=0)
if "postgres" in {d for (d, _) in servers} and top in pgbench:
    for size in sizes:
        get = find("postgres", size, "get_by_id", top)
        if get:
            share = get["rps"] / ceiling(size, top)
            checks.append((f"GET by id ≥ 50 % of pgbench -S ({size:,}, {top} conns)", f"{share:.0%}", share >= 0.5))
            checks.append((f"GET by id p99 ≤ 10 ms ({size:,})", f"{get['p99_ms']:.1f} ms", get["p99_ms"] <= 10))
        create = find("postgres", size, "create", top)
        if create and (size, top) in insert_ceiling:
            share = create["rps"] / insert_ceiling[(size, top)]
            whole = create_ceiling.get((size, top))
            alone = f" (PostgreSQL alone, the whole transaction: {whole['tps'] / insert_ceiling[(size, top)]:.0%})" if whole else ""
            checks.append((f"POST /companies ≥ 50 % of pgbench's INSERT ({size:,}, {top} conns)", f"{share:.0%}{alone}", share >= 0.5))
        lst = find("postgres", size, "list_region_by_name", top)
        if lst:
            alone = list_ceiling.get((size, top))
            beside = f" (PostgreSQL alone: {alone['p99_ms']:.1f} ms)" if alone else ""
            checks.append((f"list of 50 p99 ≤ 15 ms ({size:,})", f"{lst['p99_ms']:.1f} ms{beside}", lst["p99_ms"] <= 15))
    if len(sizes) >= 2:
        first = find("postgres", sizes[0], "list_region_by_name", top)
        deep = find("postgres", sizes[-1], "list_deep_cursor", top)
        if first and deep:
            cost = first["rps"] / deep["rps"]
            checks.append((f"deep page at {sizes[-1]:,} ≤ 1.5× first page at {sizes[0]:,} (time per request)", f"{cost:.2f}×", cost <= 1.5))
for (db, size), server in servers.items():
    checks.append((f"idle RSS ≤ 30 MiB ({db}, {size:,})", f"{server['idle_rss_kib'] / 1024:.1f} MiB", server["idle_rss_kib"] <= 30 * 1024))
    checks.append((f"peak RSS ≤ 100 MiB ({db}, {size:,})", f"{server['peak_rss_kib'] / 1024:.1f} MiB", server["peak_rss_kib"] <= 100 * 1024))
    checks.append((f"ready ≤ 1 s ({db}, {size:,})", f"{server['ready_ms']} ms", server["ready_ms"] <= 1000))
    if db == "sqlite":
        writes = [find(db, size, w, c) for w in ("create", "patch_if_match") for c in {r["connections"] for r in http}]
        failed = sum(w["non_2xx"] + w["socket_errors"] for w in writes if w)
        locked = logs.get((db, size), {}).get("database_locked", 0)
        checks.append((f"SQLite writes without errors or 'database is locked' ({size:,})", f"{failed} failed, {locked} locked", failed == 0 and locked == 0))
lines += ["## Targets", "", "| target | measured | met |", "|---|---:|:---:|"]
lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in checks]
open(md_out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
