#!/usr/bin/env bash
# Runs Schemathesis (all checks) against the real service on a demo-seeded database, as the
# bootstrap admin: every response must match the document, no 5xx, bad input refused as
# documented. Usage: truthfulness.sh <binary> [sqlite|postgres]
# On PostgreSQL it uses a fresh database `truthfulness` on the server of TEST_DATABASE_URL:
# the SQLite run alone never saw what only PostgreSQL refuses (U+0000 in text answered 500).
#
# The run is bounded by examples, not by time: Schemathesis' --max-time makes fuzzing and
# stateful testing repeat until the budget is spent, so each run would test different cases.
# With a fixed seed, one worker and a fixed number of examples per operation, every run sends
# the same requests and a CI failure reproduces locally. `timeout` only guards against a hang.
#
# `truthfulness.sh --setup` only installs Schemathesis (CI runs it once, then the two databases'
# runs side by side: each has its own port, database and data directory).
set -euo pipefail
SCHEMATHESIS="schemathesis==4.32.5"
install_schemathesis() {
  [ -x .venv/bin/st ] || { python3 -m venv .venv 2>/dev/null || true; .venv/bin/pip install --quiet "$SCHEMATHESIS"; }
}
if [ "${1:-}" = --setup ]; then cd "$(dirname "$0")" && install_schemathesis; exit; fi
BIN="$(realpath "${1:?usage: truthfulness.sh path/to/betriebsnachbarschaften [sqlite|postgres]}")"
DB="${2:-sqlite}"
cd "$(dirname "$0")"
unset DATABASE_URL
if [ "$DB" = postgres ]; then
  SERVER_URL="${TEST_DATABASE_URL:?TEST_DATABASE_URL names the PostgreSQL server}"
  SERVER_URL="${SERVER_URL%%\?*}"
  export DATABASE_URL="${SERVER_URL%/*}/truthfulness"
  psql -q "${SERVER_URL%/*}/postgres" -c "DROP DATABASE IF EXISTS truthfulness" -c "CREATE DATABASE truthfulness" >/dev/null
fi
PORT="${TRUTH_PORT:-$([ "$DB" = postgres ] && echo 18092 || echo 18091)}"
PASSWORD="truthfulness-admin-password"

install_schemathesis

DATA="$(mktemp -d)"
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT

DATA_DIR="$DATA" "$BIN" seed --demo
DATA_DIR="$DATA" PORT="$PORT" BOOTSTRAP_ADMIN_PASSWORD="$PASSWORD" RUST_LOG="warn,actix_http::h1::dispatcher=off" "$BIN" >"$DATA/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done

# The token comes first: fuzzing the token endpoint with wrong passwords for `admin` soon
# throttles further sign-ins from this address (as it should).
TOKEN="$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/token" -d grant_type=password -d username=admin \
  --data-urlencode "password=$PASSWORD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

timeout 900 .venv/bin/st --config-file schemathesis.toml run openapi.json \
  --url "http://127.0.0.1:$PORT" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${TRUTH_EXAMPLES:-25}" --workers 1 --seed "${TRUTH_SEED:-1}" --no-shrink

if grep -E '^\[[0-9-]+T[^]]* (ERROR|WARN) ' "$DATA/server.log" | grep -v 'created a new token signing key' | head -20; then
  echo "the server logged errors during the run (above)"; exit 1
fi
