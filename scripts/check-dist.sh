#!/usr/bin/env bash
# Fails when dist/ is not what the sources bundle to: users and CI run dist/, not src/.
set -euo pipefail
cd "$(dirname "$0")/.."
# src/remote/scripts.ts first: the bundle is built from it, and it must match src/remote/*.sh.
node scripts/remote-scripts.mjs --check
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
npx ncc build src/index.ts -o "$fresh" --license licenses.txt >/dev/null
node scripts/strip-native.mjs "$fresh"
if ! diff -r -q dist "$fresh" >/dev/null; then
  diff -r -q dist "$fresh" || true
  echo "dist/ is stale: run 'npm run bundle' and commit dist/." >&2
  exit 1
fi
echo "dist/ is up to date"
