#!/bin/sh
# Import container $1's filesystem (docker export) as image $2 with commit message $3.
status=$(mktemp)
{ docker export "$1"; echo $? >"$status"; } | docker import --message "$3" - "$2" >/dev/null
imported=$?
exported=$(cat "$status")
rm -f "$status"
[ "$exported" = 0 ] || { echo "docker export $1 failed" >&2; exit 1; }
[ "$imported" = 0 ] || exit 1
