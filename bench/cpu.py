"""Where a benchmark run's CPU time went: the service, PostgreSQL, and the rest of the machine
(the load generator, the kernel's share not charged to a process, neighbours).

  cpu.py snapshot <service pid>                 # prints a snapshot (JSON) to pass back below
  cpu.py since '<snapshot>' <service pid> <n>   # CPU per request (µs) since the snapshot, n requests

PostgreSQL's time is every `postgres` process's own time plus what its exited children used
(the postmaster is charged for the backends it has reaped: pgbench's connections end with the
run). The machine's busy time is /proc/stat's total minus idle and I/O wait. A pid of 0 (no
service: pgbench alone) counts nothing for the service.
"""
import json
import os
import sys

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def times(pid):
    """utime + stime, and cutime + cstime (reaped children), in ms."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])
    children = int(fields[13]) + int(fields[14])
    return own * TICK_MS, children * TICK_MS


def postgres_ms():
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            own, children = times(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended while we looked
        total += own + children
    return total


def busy_ms():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    # guest time is already counted in user; leave it out of the sum.
    return (sum(values[:8]) - idle) * TICK_MS


def snapshot(pid):
    service = sum(times(pid)) if pid else 0.0
    return {"service_ms": service, "postgres_ms": postgres_ms(), "busy_ms": busy_ms()}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "snapshot":
        print(json.dumps(snapshot(int(args[0]))))
    elif command == "since":
        before, pid, requests = json.loads(args[0]), int(args[1]), max(int(args[2]), 1)
        now = snapshot(pid)
        spent = {k: now[k] - before[k] for k in now}
        per = lambda ms: round(ms * 1000 / requests, 1)
        print(json.dumps({
            "service_us": per(spent["service_ms"]),
            "postgres_us": per(spent["postgres_ms"]),
            "other_us": per(spent["busy_ms"] - spent["service_ms"] - spent["postgres_ms"]),
            "busy_ms": round(spent["busy_ms"]),
        }))
    else:
        sys.exit(__doc__)
