#!/usr/bin/env bash
# Checks the committed OpenAPI document as its users meet it: two linters (Redocly, Spectral
# with the OWASP ruleset; no error and no warning allowed except those switched off, with
# reasons, in the configs beside this script), then a TypeScript client and a Python client
# generated from it, with no hand edits, and used.
# Tools are pinned (package-lock.json; the pip pin below) and installed here, offline-capable
# once installed: node_modules/ and .venv/ live beside the configs and are not committed.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON_CLIENT_GENERATOR="openapi-python-client==0.29.1"

echo "--> installing the pinned tools"
npm ci --no-audit --no-fund --loglevel=error
if [ ! -x .venv/bin/openapi-python-client ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet "$PYTHON_CLIENT_GENERATOR"
fi

echo "--> Redocly"
npx --no-install redocly lint openapi.json --config redocly.yaml --format stylish

echo "--> Spectral (spectral:oas + OWASP API Security Top 10)"
npx --no-install spectral lint openapi.json --ruleset .spectral.yaml --fail-severity warn

rm -rf generated && mkdir -p generated

echo "--> TypeScript: openapi-typescript, then tsc on a usage file"
npx --no-install openapi-typescript openapi.json -o generated/api.d.ts --redocly redocly.yaml
npx --no-install tsc -p clients/tsconfig.json

echo "--> Python: openapi-python-client, then import and use it"
.venv/bin/openapi-python-client generate --path openapi.json --output-path generated/python \
  --overwrite --config clients/python-client.yaml --fail-on-warning
.venv/bin/pip install --quiet --force-reinstall --no-deps ./generated/python
.venv/bin/pip install --quiet ./generated/python
.venv/bin/python clients/usage.py

echo "--> the OpenAPI document passes all checks"
