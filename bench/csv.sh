#!/usr/bin/env bash
# CSV at size (BENCHMARKS.md, "CSV export and import"): on each database, the whole export of
# 1 M companies and an import of 100 000 rows (create, then the same file as an upsert that
# changes nothing), each with its wall time and the server's peak RSS.
#
#   bash bench/csv.sh
#
# Settings (environment): BENCH_DBS ("sqlite postgres"), BENCH_EXPORT_SIZE (1000000),
# BENCH_IMPORT_ROWS (100000), BENCH_BIN (target/release/…), BENCH_PG
# (postgres://postgres@127.0.0.1:5432). Prints one line per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."

DBS="${BENCH_DBS:-sqlite postgres}"
SIZE="${BENCH_EXPORT_SIZE:-1000000}"
ROWS="${BENCH_IMPORT_ROWS:-100000}"
BIN="${BENCH_BIN:-target/release/betriebsnachbarschaften}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT=18591
PASSWORD="bench-admin-password-42"
WORK="$(mktemp -d)"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BIN" ] || cargo build --release --locked
now_ms() { date +%s%3N; }
# The server's peak resident set so far, in MiB.
peak_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER/status"; }

for DB in $DBS; do
  DATA="$WORK/$DB"
  mkdir -p "$DATA"
  if [ "$DB" = postgres ]; then
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS bench_csv" -c "CREATE DATABASE bench_csv" >/dev/null 2>&1
    export DATABASE_URL="$PG/bench_csv"
  else
    unset DATABASE_URL
  fi
  DATA_DIR="$DATA" "$BIN" seed --synthetic "$SIZE" >&2
  [ "$DB" = postgres ] && psql -q "$DATABASE_URL" -c "VACUUM (ANALYZE)" >/dev/null
  DATA_DIR="$DATA" PORT=$PORT BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn "$BIN" serve 2>"$DATA/server.log" &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done
  TOKEN="$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/token" -d grant_type=password -d username=admin \
    -d "password=$PASSWORD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  idle="$(peak_mib)"

  started=$(now_ms)
  lines=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Accept: text/csv' \
    "http://127.0.0.1:$PORT/api/v1/companies" | wc -l)
  echo "$DB export: $((lines - 1)) companies in $(( $(now_ms) - started )) ms, peak RSS $(peak_mib) MiB (idle $idle MiB)"

  # A chamber's file: new companies with their keys, a topic and the first region.
  python3 - "$ROWS" >"$DATA/import.csv" <<'EOF'
import sys
rows = int(sys.argv[1])
print("external_id,name,region_id,city,postal_code,employee_count,topic_ids")
for i in range(1, rows + 1):
    print(f"HWK-{i},Importbetrieb {i} GmbH,1,Goslar,38640,{i % 250},1|2")
EOF
  for mode in create upsert; do
    started=$(now_ms)
    report="$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
      --data-binary "@$DATA/import.csv" "http://127.0.0.1:$PORT/api/v1/companies/import?mode=$mode")"
    took=$(( $(now_ms) - started ))
    counts="$(python3 -c 'import json,sys; r = json.load(sys.stdin); print(", ".join(f"{k} {r[k]}" for k in ("created", "updated", "unchanged", "failed")))' <<<"$report")"
    echo "$DB import mode=$mode: $ROWS rows in $took ms ($counts), peak RSS $(peak_mib) MiB"
  done
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
