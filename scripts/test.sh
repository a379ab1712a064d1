#!/usr/bin/env bash
# All tests, from a fresh machine: installs what they need, then types, lint, unit tests,
# dist/ freshness, and the end-to-end suite against a local droplet (dockerd + sshd on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[ -x node_modules/.bin/jest ] || npm ci --no-audit --no-fund

echo "== types and lint"
npm run -s typecheck
npm run -s lint
echo "== unit tests"
npm run -s test:unit
echo "== dist/"
bash scripts/check-dist.sh
echo "== end-to-end (local droplet)"
npm run -s test:e2e
