#!/bin/sh
# Push $2 if $6=yes (login $5 at $4, password on stdin); update service $1 to its $3 digest;
# $7: the failure action; $8: the update order ('' keeps the service's own).
set -e
service=$1 ref=$2 repo=$3 registry=$4 user=$5 push=$6 onfail=$7 order=$8
if [ -n "$user" ]; then
  # A login of this run only: the credentials are never left in the host user's ~/.docker.
  DOCKER_CONFIG=$(mktemp -d)
  export DOCKER_CONFIG
  trap 'rm -rf "$DOCKER_CONFIG"' EXIT
  # dash runs the EXIT trap on a signal only when the signal's trap exits (a cancelled run).
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  docker login --username "$user" --password-stdin "$registry" >/dev/null
fi
if [ "$push" = yes ]; then
  out=$(docker push "$ref" 2>&1) || { printf '%s\n' "$out" | tail -n 5 >&2; exit 4; }
  printf '%s\n' "$out" | tail -n 1
fi
pinned=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
  awk -v prefix="$repo@" 'index($0, prefix) == 1 { print; exit }')
if [ -z "$pinned" ]; then
  echo "$ref has no digest in $repo: it is not in that registry" >&2
  exit 3
fi
echo "image=$ref@${pinned#*@}"
echo "before=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.StartedAt}}{{end}}' "$service")"
docker service update --detach --quiet --with-registry-auth --update-failure-action "$onfail" \
  ${order:+--update-order "$order"} --image "$ref@${pinned#*@}" "$service" >/dev/null
