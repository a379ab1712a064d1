import { shScript, type Command } from '../shell.js'

/*
 * Watching a release run, on the host (no round trip per poll): the canary before the swap, and
 * the stability window after it. Both print why a container failed: its exit code, whether it was
 * OOM-killed, and the last lines of its log.
 */

const CANARY = `
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
    printf '%s\\n' "$out" | tail -n 15
    exit 4
  fi
  sleep 1
done
`

/** The canary must stay up `seconds`, then pass `command` (if any) inside it within `timeout`. */
export function watchCanary(
  container: string,
  seconds: number,
  command: string,
  timeoutSec: number
): Command {
  return shScript(CANARY, container, String(seconds), command, String(timeoutSec))
}

const DIAGNOSE = `
docker inspect --format '#state exit={{.State.ExitCode}} oom={{.State.OOMKilled}} status={{.State.Status}} restarts={{.RestartCount}} {{.State.Error}}' "$1" 2>/dev/null || echo "#state gone"
echo '#logs'
docker logs --tail "$2" "$1" 2>&1
true
`

/** Why a container failed: its state and the last lines of its log. */
export function diagnose(container: string, lines = 20): Command {
  return shScript(DIAGNOSE, container, String(lines))
}

const STABLE = `
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
`

/** The new production container must keep running, unrestarted, for `seconds`. */
export function watchStable(containerId: string, seconds: number): Command {
  return shScript(STABLE, containerId, String(seconds))
}

/** Diagnostics output as the lines a person reads: state first, then the log. */
export function formatDiagnosis(output: string): string {
  const [head = '', logs = ''] = output.split(/^#logs$/m)
  const state = head
    .split('\n')
    .filter(line => line.startsWith('#state') || line.startsWith('#failed'))
    .map(line => line.replace(/^#(state|failed) ?/, ''))
    .join('; ')
  const tail = logs.trim()
  return [state && `State: ${state}`, tail && `Last log lines:\n${tail}`].filter(Boolean).join('\n')
}
