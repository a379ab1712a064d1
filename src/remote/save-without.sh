#!/bin/sh
# Write image $1's docker save archive to stdout without its bottom $2 layers (of $3).
set -e
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/hermes-save.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# dash runs the EXIT trap on a signal only when the signal's trap exits (a cancelled run).
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
docker save "$1" >"$tmp/image.tar"
tar -xOf "$tmp/image.tar" manifest.json >"$tmp/manifest.json"
# "Layers":["<dir>/layer.tar",...]: names are hex and slashes only.
grep -o '"Layers":\[[^]]*\]' "$tmp/manifest.json" | sed 's/^"Layers"://' | tr -d '"[]' | tr ',' '\n' >"$tmp/layers"
[ "$(wc -l <"$tmp/layers")" -eq "$3" ] || { echo "the archive lists $(wc -l <"$tmp/layers") layers, not $3" >&2; exit 3; }
head -n "$2" "$tmp/layers" >"$tmp/skip"
tar --delete -f - -T "$tmp/skip" <"$tmp/image.tar"