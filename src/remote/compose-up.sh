#!/bin/sh
# Recreate service $4 of Compose project $3 (files $2, comma-separated, in directory $1) from its image, alone: docker compose (v2, --wait) or docker-compose (v1).
cd "$1" || { echo "The Compose project's directory $1 is not there." >&2; exit 3; }
project=$3 service=$4 files=$2
set --
old_ifs=$IFS
IFS=,
for file in $files; do set -- "$@" -f "$file"; done
IFS=$old_ifs
if docker compose version >/dev/null 2>&1; then
  docker compose -p "$project" "$@" up --detach --no-deps --wait "$service"
elif command -v docker-compose >/dev/null 2>&1; then
  docker-compose -p "$project" "$@" up --detach --no-deps "$service"
else
  echo "Neither docker compose (v2) nor docker-compose (v1) is on the host: install one of them." >&2
  exit 127
fi
