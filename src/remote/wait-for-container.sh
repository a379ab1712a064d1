#!/bin/sh
# Wait $2 s for a running container of image ID $1, not named $3 nor a stand-in: print "<id> <name>", else exit 124.
end=$(( $(date +%s) + $2 ))
pause=0.1
while :; do
  # Only containers of the image (or of one built on it): while none runs, one docker call a poll.
  ids=$(docker ps -q --no-trunc --filter "ancestor=$1")
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # $ids: container IDs, split into one argument each
    found=$(docker inspect --format '{{.Id}} {{.Image}} {{.Name}} {{.State.Running}} {{with index .Config.Labels "hermes-deploy.standin"}}standin{{end}}' $ids 2>/dev/null |
      awk -v image="$1" -v skip="/$3" '$2 == image && $3 != skip && $4 == "true" && $5 == "" { print $1, substr($3, 2); exit }')
    if [ -n "$found" ]; then echo "$found"; exit 0; fi
  fi
  [ "$(date +%s)" -lt "$end" ] || exit 124
  # Every 0.1 s for the first 10 s (a respawn is usually that quick), then every 0.5 s.
  polls=$((${polls:-0} + 1))
  [ "$polls" -lt 100 ] || pause=0.5
  sleep "$pause"
done
