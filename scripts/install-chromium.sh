#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing: the project report's printable page is
# checked in headless Chromium (tests/api/reports.rs). Needs root (CI runs as root).
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
chromium --version
