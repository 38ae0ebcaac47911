#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries when they are missing: the fault suite
# (tests/api/faults) starts clusters of its own with initdb and pg_ctl, so that it can restart
# and freeze them without touching the shared server; the TLS tests make their certificates
# with the openssl command. Needs root (CI runs as root).
set -euo pipefail
if ! command -v openssl >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
for dir in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    echo "PostgreSQL server binaries: $dir"
    exit 0
  fi
done
apt-get update -qq
# Only the binaries: no cluster of Debian's own is created or started.
mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
  echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
ls -d /usr/lib/postgresql/*/bin
