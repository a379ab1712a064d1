#!/bin/sh
# Watch container $1 run unrestarted for $2 s: print stable, else its state and log, and exit 3.
log=$(mktemp)
code=$(mktemp)
# Follow its log and wait on it from the start: a supervisor started with --rm removes it on exit.
docker logs --follow --tail 20 "$1" >"$log" 2>&1 &
follower=$!
docker wait "$1" >"$code" 2>/dev/null &
waiter=$!
end=$(( $(date +%s) + $2 ))
state=stable
while [ "$(date +%s)" -lt "$end" ]; do
  now=$(docker inspect --format '{{.State.Running}} {{.RestartCount}}' "$1" 2>/dev/null) || { state="removed"; break; }
  [ "$now" = "true 0" ] || { state="$now"; break; }
  sleep 0.5
done
if [ "$state" = stable ]; then
  kill "$follower" "$waiter" 2>/dev/null
  rm -f "$log" "$code"
  echo stable
  exit 0
fi
sleep 1
echo "#state $state exit=$(cat "$code") $(docker inspect --format 'oom={{.State.OOMKilled}}' "$1" 2>/dev/null)"
echo '#logs'
tail -n 20 "$log"
kill "$follower" "$waiter" 2>/dev/null
rm -f "$log" "$code"
exit 3
