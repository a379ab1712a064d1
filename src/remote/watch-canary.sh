#!/bin/sh
# Watch container $1 stay up $2 s, then run command $3 (if any) in it until it passes, up to $4 s.
end=$(( $(date +%s) + $2 ))
while [ "$(date +%s)" -lt "$end" ]; do
  [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || { echo "#failed exited within $2 s"; exit 3; }
  sleep 0.5
done
[ -n "$3" ] || exit 0
end=$(( $(date +%s) + $4 ))
attempt=0
while :; do
  attempt=$((attempt + 1))
  if out=$(docker exec "$1" sh -c "$3" 2>&1); then echo "canary command passed on attempt $attempt"; exit 0; fi
  [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || { echo "#failed exited during canary-command"; exit 3; }
  if [ "$(date +%s)" -ge "$end" ]; then
    echo "#failed canary-command did not pass within $4 s; its last output:"
    printf '%s\n' "$out" | tail -n 15
    exit 4
  fi
  sleep 1
done
