#!/usr/bin/env bash
# The benchmark suite (bench/README.md): one command.
#
#   bash bench/run.sh            # the full run: 10 k and 1 M companies, SQLite and PostgreSQL
#   bash bench/run.sh --quick    # a smoke run that only proves the suite works (CI)
#
# Settings (environment): BENCH_DBS ("sqlite postgres"), BENCH_SIZES ("10000 1000000"),
# BENCH_CONNECTIONS ("16 64"), BENCH_SECONDS (10), BENCH_BIN (target/release/…),
# BENCH_CEILING (target/release/examples/driver_ceiling),
# BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_WORKLOADS (all; or e.g. "create
# changes_page" for an A/B run of a few), BENCH_WARMUP_SECONDS (2). Results:
# bench/results/<stamp>.json and .md.
set -euo pipefail
cd "$(dirname "$0")/.."

DBS="${BENCH_DBS:-sqlite postgres}"
SIZES="${BENCH_SIZES:-10000 1000000}"
CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
SECONDS_EACH="${BENCH_SECONDS:-10}"
BIN="${BENCH_BIN:-target/release/betriebsnachbarschaften}"
CEILING="${BENCH_CEILING:-target/release/examples/driver_ceiling}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
WORKLOADS="${BENCH_WORKLOADS:-}"
WARMUP_SECONDS="${BENCH_WARMUP_SECONDS:-2}"
if [ "${1:-}" = "--quick" ]; then
  SIZES="${BENCH_SIZES:-300}"; CONNECTIONS="${BENCH_CONNECTIONS:-4}"; SECONDS_EACH="${BENCH_SECONDS:-1}"
  WARMUP_SECONDS="${BENCH_WARMUP_SECONDS:-1}"
  BIN="${BENCH_BIN:-target/debug/betriebsnachbarschaften}"
  CEILING="${BENCH_CEILING:-target/debug/examples/driver_ceiling}"
fi
PORT=18590
PASSWORD="bench-admin-password-42"
THREADS=2
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
# A quick run proves the suite works; its numbers mean nothing and stay out of the repository.
OUT="bench/results"
[ "${1:-}" = "--quick" ] && OUT="$(mktemp -d)"
RAW="$(mktemp)"
WORK="$(mktemp -d)"
mkdir -p "$OUT"

say() { printf '%s\n' "$*" >&2; }
record() { printf '%s\n' "$1" >>"$RAW"; }
# wants <workload>: whether BENCH_WORKLOADS (empty: all) asks for it.
wants() { [ -z "$WORKLOADS" ] || [[ " $WORKLOADS " == *" $1 "* ]]; }

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || export PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | tail -1)"
if [ ! -x "$BIN" ]; then
  case "$BIN" in
    *release*) cargo build --release --locked ;;
    *) cargo build --locked ;;
  esac
fi
if [[ " $DBS " == *" postgres "* ]] && [ ! -x "$CEILING" ]; then
  case "$CEILING" in
    *release*) cargo build --release --locked --example driver_ceiling ;;
    *) cargo build --locked --example driver_ceiling ;;
  esac
fi

SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$WORK" "$RAW"
}
trap cleanup EXIT

rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

# machine facts for the report
record "$(WARMUP_SECONDS="$WARMUP_SECONDS" python3 - "$BIN" <<'EOF'
import hashlib, json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
version = subprocess.run([sys.argv[1], "--version"], capture_output=True, text=True).stdout.strip()
# Which build and which settings ran, so that an A/B's rows can be told apart afterwards.
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:12]
settings = {k: v for k, v in sorted(os.environ.items())
            if k in ("WORKERS", "DB_POOL_SIZE", "DB_READ_CONNECTIONS", "SQLITE_SYNCHRONOUS")}
try:
    autogroup = open("/proc/sys/kernel/sched_autogroup_enabled").read().strip()
except OSError:
    autogroup = "absent"
# How the service runs: in a session of its own, after a warm-up (bench/README.md).
settings["launch"] = f"setsid, warm-up {os.environ.get('WARMUP_SECONDS', '?')} s, autogroup {autogroup}"
print(json.dumps({"kind": "machine", "cpu": cpu, "cores": os.cpu_count(), "mem_mib": mem,
                  "kernel": platform.release(), "binary": f"{version}, sha256 {digest}",
                  "settings": settings}))
EOF
)"

# wrk_json <port> <connections> [env…]: one wrk run of bench/workload.lua, its numbers as JSON
# (BENCH_SECONDS long, or WRK_SECONDS when set).
wrk_json() {
  local port="$1" conns="$2"; shift 2
  env "$@" BN_THREADS="$THREADS" wrk -t"$THREADS" -c"$conns" -d"${WRK_SECONDS:-$SECONDS_EACH}s" \
    --timeout 10s -s bench/workload.lua "http://127.0.0.1:$port" | tail -1
}

# pgbench_tps <connections> [conninfo parameters]: pgbench -S on bench_pgbench, in tps.
pgbench_tps() {
  pgbench -S -M prepared -n -c "$1" -j "$THREADS" -T "$SECONDS_EACH" "$PG/bench_pgbench${2:-}" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

# run_wrk <label> <connections> [env…]: one wrk run against the service; its JSON goes to the
# results.
run_wrk() {
  local label="$1" conns="$2"; shift 2
  wants "$label" || return 0
  local result cpu before
  before="$(python3 bench/cpu.py snapshot "$SERVER")"
  result="$(wrk_json "$PORT" "$conns" "$@")"
  cpu="$(python3 bench/cpu.py since "$before" "$SERVER" "$(requests_of "$result")")"
  local rss peak
  rss=$(rss_kib "$SERVER" VmRSS); peak=$(rss_kib "$SERVER" VmHWM)
  say "  $label c=$conns: $result (RSS $((rss / 1024)) MiB, peak so far $((peak / 1024)) MiB; CPU per request $cpu)"
  record "{\"kind\":\"http\",\"db\":\"$DB\",\"size\":$SIZE,\"workload\":\"$label\",\"connections\":$conns,\"rss_kib\":$rss,\"result\":$result,\"cpu\":$cpu}"
}

requests_of() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$1"; }

# driver_ceilings: the GET by id read without the service around it (no authentication, no
# logging, four columns), served by examples/driver_ceiling.rs through the blocking driver the
# service uses, a pipelining async one, and diesel-async (one pool shared by the workers, one per
# worker, and one pipelined connection per worker), next to pgbench -S without TLS (the async drivers run without it there, so all
# do). What limits GET by id: BENCHMARKS.md.
driver_ceilings() {
  local port=$((PORT + 1)) c tps driver result tries
  for c in $CONNECTIONS; do
    tps="$(pgbench_tps "$c" "?sslmode=disable")"
    for driver in sync async diesel-async diesel-async-per-worker diesel-async-pipelined; do
      # In a session of its own, as the service (below).
      setsid "$CEILING" "$driver" "$port" "$DATABASE_URL?sslmode=disable" 2>>"$DATA/driver_ceiling.log" &
      SERVER=$!
      tries=0
      until curl -sf -o /dev/null "http://127.0.0.1:$port/companies/$FIRST"; do
        tries=$((tries + 1))
        [ "$tries" -lt 1000 ] && kill -0 "$SERVER" 2>/dev/null || { say "driver_ceiling $driver did not start"; cat "$DATA/driver_ceiling.log" >&2; exit 1; }
        sleep 0.01
      done
      result="$(wrk_json "$port" "$c" BN_MODE=ceiling BN_FROM="$FIRST" BN_TO="$LAST")"
      kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
      say "  driver ceiling, $driver c=$c: $result (pgbench -S without TLS: $tps tps)"
      record "{\"kind\":\"driver\",\"driver\":\"$driver\",\"size\":$SIZE,\"connections\":$c,\"pgbench_tps\":$tps,\"result\":$result}"
    done
  done
}

# pgbench_ceiling_of <kind> <script> <connections> <size> [-D …]: pgbench runs a script of the
# service's statements at the same concurrency; its rate, its p99 (from pgbench's
# per-transaction log) and its CPU per transaction are recorded as <kind>.
pgbench_ceiling_of() {
  local kind="$1" script="$2" conns="$3" size="$4" out before cpu tps p99
  shift 4
  rm -f "$WORK"/ceiling_log.*
  before="$(python3 bench/cpu.py snapshot 0)"
  out="$(pgbench -M prepared -n -c "$conns" -j "$THREADS" -T "$SECONDS_EACH" "$@" \
    -l --log-prefix="$WORK/ceiling_log" -f "$script" "$DATABASE_URL" 2>/dev/null)"
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")"
  cpu="$(python3 bench/cpu.py since "$before" 0 \
    "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")")"
  # Each line of pgbench's log: client, transaction, latency in µs, …
  p99="$(cat "$WORK"/ceiling_log.* | awk '{print $3}' | sort -n \
    | awk '{v[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", v[i] / 1000}')"
  say "  pgbench $kind c=$conns: $tps tps, p99 $p99 ms (CPU per transaction $cpu)"
  record "{\"kind\":\"$kind\",\"db\":\"postgres\",\"size\":$size,\"connections\":$conns,\"tps\":$tps,\"p99_ms\":$p99,\"cpu\":$cpu}"
}

# pgbench_write_ceilings <connections> <size>: right before each `create` run, the rate at which
# PostgreSQL itself runs the INSERT of POST /companies (bench/insert_ceiling.sql: the issue's
# yardstick) and the whole transaction of one POST (bench/create_ceiling.sql: the lookup, the
# INSERT and the change feed's entry), into copies of the tables.
pgbench_write_ceilings() {
  psql -q "$DATABASE_URL" -c "DROP TABLE IF EXISTS bench_insert, bench_changes" \
    -c "CREATE TABLE bench_insert (LIKE companies INCLUDING ALL)" \
    -c "ALTER TABLE bench_insert ADD FOREIGN KEY (region_id) REFERENCES regions (id)" \
    -c "CREATE TABLE bench_changes (LIKE changes INCLUDING ALL)" >/dev/null
  pgbench_ceiling_of pgbench_insert bench/insert_ceiling.sql "$1" "$2" -D region="$REGION"
  pgbench_ceiling_of pgbench_create bench/create_ceiling.sql "$1" "$2" -D region="$REGION"
  psql -q "$DATABASE_URL" -c "DROP TABLE bench_insert, bench_changes" >/dev/null
}

# pgbench_list_ceiling <connections> <size>: the rate and latency at which PostgreSQL itself
# runs the statement of `list_region_by_name` (bench/list_ceiling.sql) at the same concurrency,
# measured right before that run: the p99 no service in front of it can beat.
pgbench_list_ceiling() {
  pgbench_ceiling_of pgbench_list bench/list_ceiling.sql "$1" "$2" -D region="$REGION" -D one=1
}

api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1"; }

# The database's own point-select rate at the same concurrency: the ceiling for GET by id.
# pgbench_ceiling <connections> [size]: measured at the start, and again right before each
# PostgreSQL `get_by_id` run, which is judged against the measurement next to it: this VM's
# neighbours move pgbench by a third within the hour.
pgbench_ceiling() {
  local tps
  tps="$(pgbench_tps "$1")"
  say "  pgbench -S c=$1: $tps tps"
  if [ -n "${2:-}" ]; then
    record "{\"kind\":\"pgbench\",\"db\":\"postgres\",\"size\":$2,\"connections\":$1,\"tps\":$tps}"
  else
    record "{\"kind\":\"pgbench\",\"connections\":$1,\"tps\":$tps}"
  fi
}
if [[ " $DBS " == *" postgres "* ]]; then
  say "ceiling: pgbench -S"
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS bench_pgbench" -c "CREATE DATABASE bench_pgbench" >/dev/null 2>&1
  pgbench -q -i -s 10 "$PG/bench_pgbench" >/dev/null 2>&1
  for c in $CONNECTIONS; do pgbench_ceiling "$c"; done
fi

for DB in $DBS; do
  for SIZE in $SIZES; do
    say "== $DB, $SIZE companies"
    DATA="$WORK/$DB-$SIZE"
    mkdir -p "$DATA"
    if [ "$DB" = postgres ]; then
      NAME="bench_$SIZE"
      psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $NAME" -c "CREATE DATABASE $NAME" >/dev/null 2>&1
      export DATABASE_URL="$PG/$NAME"
    else
      unset DATABASE_URL
    fi
    export DATA_DIR="$DATA"
    started=$(now_ms)
    DATA_DIR="$DATA" "$BIN" seed --synthetic "$SIZE" >&2
    record "{\"kind\":\"seed\",\"db\":\"$DB\",\"size\":$SIZE,\"ms\":$(( $(now_ms) - started ))}"
    # The bulk load leaves PostgreSQL work to do in the background (autovacuum of the new rows,
    # a checkpoint of the dirty pages) that would otherwise land in the middle of the
    # measurements as stalls of up to a second: do it now.
    [ "$DB" = postgres ] && psql -q "$DATABASE_URL" -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >/dev/null

    # The server with production defaults: JSON request logs (to a file), default pool.
    started=$(now_ms)
    # In a session of its own. With the kernel's autogroup scheduling (sched_autogroup_enabled,
    # on by default) a session is one group in CPU sharing: started in this script's session,
    # the service shared one group with wrk, its load, while every PostgreSQL backend has a
    # session (and group) of its own — and pgbench's client, too, is apart from the server it
    # measures. At the same moment: GET by id 20 411 req/s, p99 13.0 ms sharing wrk's group,
    # 25 285 req/s, 5.1 ms apart (BENCHMARKS.md). `setsid` runs it in place: the same PID, as
    # a background job of this script is no process-group leader (no job control here).
    PORT=$PORT BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" LOG_FORMAT=json \
      setsid "$BIN" serve 2>"$DATA/server.log" &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null; do sleep 0.01; done
    ready_ms=$(( $(now_ms) - started ))
    # Idle: three seconds after the last request (the readiness check). The service hands the
    # memory its allocator holds free back 1–2 s after its last request (src/memory.rs); one
    # second after ready, as measured before 2026-12-07's fifth session, it had not yet.
    sleep 3
    idle=$(rss_kib "$SERVER" VmRSS)
    say "  ready after $ready_ms ms, idle RSS $((idle / 1024)) MiB"

    TOKEN="$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/token" -d grant_type=password -d username=admin \
      -d "password=$PASSWORD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
    read -r FIRST LAST REGION < <(python3 bench/probe.py ids "$PORT" "$TOKEN")
    # A cursor 90 % deep into the region's companies by name, walked through the API.
    CURSOR="$(python3 bench/probe.py deep-cursor "$PORT" "$TOKEN" "$REGION")"
    say "  ids $FIRST..$LAST, region $REGION, deep cursor ready"
    HALF=$(( (FIRST + LAST) / 2 ))

    # Warm-up, not recorded: the service opens its database connections when the load first
    # needs them (on PostgreSQL each a TLS handshake and its set-up), and the requests queued
    # behind them made up the slowest per cent of the first run (pgbench, too, reports its
    # rate without its connections' start). Reads only, at the most connections measured:
    # point reads open the shared connections, lists the pooled ones writes use as well.
    warm="${CONNECTIONS##* }"
    WRK_SECONDS="$WARMUP_SECONDS" wrk_json "$PORT" "$warm" BN_MODE=get BN_TOKEN="$TOKEN" \
      BN_FROM="$FIRST" BN_TO="$LAST" >/dev/null
    WRK_SECONDS="$WARMUP_SECONDS" wrk_json "$PORT" "$warm" BN_MODE=list BN_TOKEN="$TOKEN" \
      BN_REGION="$REGION" >/dev/null
    say "  warmed up (${WARMUP_SECONDS} s of point reads, ${WARMUP_SECONDS} s of lists, $warm connections)"

    for c in $CONNECTIONS; do
      run_wrk live "$c" BN_MODE=live
      [ "$DB" = postgres ] && pgbench_ceiling "$c" "$SIZE"
      run_wrk get_by_id "$c" BN_MODE=get BN_TOKEN="$TOKEN" BN_FROM="$FIRST" BN_TO="$LAST"
      [ "$DB" = postgres ] && wants list_region_by_name && pgbench_list_ceiling "$c" "$SIZE"
      run_wrk list_region_by_name "$c" BN_MODE=list BN_TOKEN="$TOKEN" BN_REGION="$REGION"
      run_wrk list_deep_cursor "$c" BN_MODE=list_deep BN_TOKEN="$TOKEN" BN_REGION="$REGION" BN_CURSOR="$CURSOR"
      run_wrk unauthorized "$c" BN_MODE=unauthorized BN_FROM="$FIRST" BN_TO="$LAST"
      [ "$DB" = postgres ] && wants create && pgbench_write_ceilings "$c" "$SIZE"
      run_wrk create "$c" BN_MODE=create BN_TOKEN="$TOKEN" BN_REGION="$REGION"
      # The feed holds every synthetic create and those of the create runs.
      run_wrk changes_page "$c" BN_MODE=changes BN_TOKEN="$TOKEN"
      # Each PATCH run gets ids no run patched before, so every If-Match names the version.
      if [ "$c" = "${CONNECTIONS%% *}" ]; then range=("$FIRST" "$HALF"); else range=("$((HALF + 1))" "$LAST"); fi
      run_wrk patch_if_match "$c" BN_MODE=patch BN_TOKEN="$TOKEN" BN_FROM="${range[0]}" BN_TO="${range[1]}"
      run_wrk token_password_grant "$c" BN_MODE=token BN_PASSWORD="$PASSWORD"
    done

    # Sign-ins can't starve reads: GET by id while the token endpoint is saturated.
    c="${CONNECTIONS##* }"
    if wants get_by_id_during_sign_in_load; then
    env BN_MODE=token BN_PASSWORD="$PASSWORD" BN_THREADS=1 wrk -t1 -c"$c" -d"${SECONDS_EACH}s" --timeout 10s \
      -s bench/workload.lua "http://127.0.0.1:$PORT" >"$WORK/token-under-mix.json" &
    TOKEN_LOAD=$!
    run_wrk get_by_id_during_sign_in_load "$c" BN_MODE=get BN_TOKEN="$TOKEN" BN_FROM="$FIRST" BN_TO="$LAST"
    wait "$TOKEN_LOAD"
    fi

    peak=$(rss_kib "$SERVER" VmHWM)
    say "  peak RSS $((peak / 1024)) MiB"
    record "{\"kind\":\"server\",\"db\":\"$DB\",\"size\":$SIZE,\"ready_ms\":$ready_ms,\"idle_rss_kib\":$idle,\"peak_rss_kib\":$peak}"
    errors5xx=$(grep -c '"status":5' "$DATA/server.log" || true)
    locked=$(grep -c 'database is locked' "$DATA/server.log" || true)
    say "  answers with 5xx: $errors5xx; 'database is locked' in the log: $locked"
    record "{\"kind\":\"log\",\"db\":\"$DB\",\"size\":$SIZE,\"status_5xx\":$errors5xx,\"database_locked\":$locked}"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    [ "$DB" = postgres ] && [ "$SIZE" = "${SIZES%% *}" ] && wants driver_ceiling && driver_ceilings
    [ "$DB" = postgres ] && psql -q "$PG/postgres" -c "DROP DATABASE $NAME" >/dev/null 2>&1
  done
done

[[ " $DBS " == *" postgres "* ]] && psql -q "$PG/postgres" -c "DROP DATABASE bench_pgbench" >/dev/null 2>&1
python3 bench/report.py "$RAW" "$OUT/$STAMP.json" "$OUT/$STAMP.md"
say "results: $OUT/$STAMP.md"
