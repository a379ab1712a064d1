#!/bin/sh
# Print the inspect of image $1 (or null), then of every container, as #image and #containers.
if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not on the PATH of a non-interactive SSH session ($PATH)" >&2
  exit 127
fi
echo '#image'
docker image inspect --format '{{json .}}' "$1" 2>/dev/null || echo null
echo '#containers'
ids=$(docker ps -aq --no-trunc) || exit $?
# A container can vanish between ps and inspect (the supervisor at work): inspect the rest.
# shellcheck disable=SC2086 # $ids: container IDs, split into one argument each
[ -z "$ids" ] || docker inspect --format '{{json .}}' $ids 2>/dev/null || true
