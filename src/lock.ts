import { shScript, type RemoteProcess, type RemoteShell } from './shell.js'

/** Who holds the deploy lock, written into it so a waiting run can say so. */
export interface LockHolder {
  repository?: string
  run?: string
  commit: string
  actor?: string
  since: string
}

/** A holder that stops sending heartbeats for this long is taken to be gone (runner lost). */
export const STALE_AFTER_SEC = 60
const HEARTBEAT_MS = 10_000

/*
 * The lock is a directory made with an atomic `mkdir` under ~/.hermes-deploy/locks on the host,
 * one per image repository. The shell that made it stays running in this run's SSH channel and
 * holds it: each line the runner sends is a heartbeat, and when the channel closes — the run
 * ended, was killed, or its connection dropped — the holder sees end of input and removes the
 * lock. A holder that is alive but silent (a runner cut off without the TCP connection closing)
 * is taken over after STALE_AFTER_SEC.
 */
const LOCK = `
set -u
name=$1
dir="$HOME/.hermes-deploy/locks"
lock="$dir/$name"
mkdir -p "$dir" || exit 70
end=$(( $(date +%s) + $2 ))
# The holder is alive when its pid is still this script holding this lock (pids are reused).
alive() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
  args=$(tr '\\000' '\\n' <"/proc/$1/cmdline")
  printf '%s\\n' "$args" | grep -qxF "$name" && printf '%s\\n' "$args" | grep -qF '.hermes-deploy/locks'
}
last=
while ! mkdir "$lock" 2>/dev/null; do
  holder=$(cat "$lock/holder" 2>/dev/null)
  pid=$(cat "$lock/pid" 2>/dev/null)
  now=$(date +%s)
  beat=$(stat -c %Y "$lock/heartbeat" 2>/dev/null || stat -c %Y "$lock" 2>/dev/null || echo "$now")
  gone=
  if [ -n "$pid" ] && ! alive "$pid"; then
    gone="its process has ended"
  elif [ $(( now - beat )) -gt "$3" ]; then
    gone="no heartbeat for $(( now - beat )) s"
    if alive "$pid"; then kill "$pid" 2>/dev/null; fi
  fi
  if [ -n "$gone" ] && mv "$lock" "$lock.stale.$$" 2>/dev/null; then
    rm -rf "$lock.stale.$$"
    echo "takeover $gone: $holder"
    continue
  fi
  if [ "$holder" != "$last" ]; then echo "waiting $holder"; last=$holder; fi
  [ "$now" -lt "$end" ] || { echo "timeout $holder"; exit 75; }
  sleep 1
done
echo $$ >"$lock/pid"
printf '%s\\n' "$4" >"$lock/holder"
touch "$lock/heartbeat"
echo acquired
while IFS= read -r line; do
  [ "$line" = release ] && break
  touch "$lock/heartbeat"
done
# Remove it only if it is still ours: after a takeover it is someone else's.
[ "$(cat "$lock/pid" 2>/dev/null)" = "$$" ] && rm -rf "$lock"
echo released
`

export interface HeldLock {
  release(): Promise<void>
}

export class LockTimeoutError extends Error {}

/** The lock's holder script, with its parameters: exported so tests can run it under a local sh. */
export function lockCommand(
  repository: string,
  timeoutSec: number,
  staleSec: number,
  holder: LockHolder
) {
  return shScript(
    LOCK,
    lockName(repository),
    String(timeoutSec),
    String(staleSec),
    JSON.stringify(holder)
  )
}

export function lockName(repository: string): string {
  return repository.replace(/[^A-Za-z0-9._-]/g, '_')
}

/**
 * Take the deploy lock for an image repository, waiting up to `timeoutSec` for a run that holds
 * it. `onWait` hears who holds it; `onTakeover` hears when a dead holder's lock was taken over.
 */
export async function acquireLock(
  shell: RemoteShell,
  options: {
    repository: string
    holder: LockHolder
    timeoutSec: number
    onWait: (holder: string) => void
    onTakeover: (detail: string) => void
  }
): Promise<HeldLock> {
  let buffered = ''
  let acquired: () => void = () => {}
  const ready = new Promise<void>(resolve => (acquired = resolve))
  const process: RemoteProcess = shell.spawn(
    lockCommand(options.repository, options.timeoutSec, STALE_AFTER_SEC, options.holder),
    {
      label: 'deploy lock',
      onOutput: (chunk, stream) => {
        if (stream !== 'stdout') return
        buffered += chunk
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline)
          buffered = buffered.slice(newline + 1)
          if (line === 'acquired') acquired()
          else if (line.startsWith('waiting ')) options.onWait(describeHolder(line.slice(8)))
          else if (line.startsWith('takeover ')) {
            const [reason, ...rest] = line.slice(9).split(': ')
            options.onTakeover(`${reason}; it was held by ${describeHolder(rest.join(': '))}`)
          }
        }
      }
    }
  )

  const outcome = await Promise.race([ready.then(() => 'acquired' as const), process.done])
  if (outcome !== 'acquired') {
    const holder = describeHolder(
      outcome.stdout
        .split('\n')
        .find(line => line.startsWith('timeout '))
        ?.slice(8) ?? ''
    )
    if (outcome.code === 75) {
      throw new LockTimeoutError(
        `Another deploy of ${options.repository} holds the lock on the host: ${holder}. Waited ${options.timeoutSec} s (\`lock-timeout\`). ` +
          'Try again when it has finished, or raise `lock-timeout`.'
      )
    }
    throw new Error(
      `Could not take the deploy lock (exit ${outcome.code}): ${(outcome.stderr || outcome.stdout).trim()}`
    )
  }

  const heartbeat = setInterval(() => process.write('\n'), HEARTBEAT_MS)
  heartbeat.unref()
  return {
    release: async () => {
      clearInterval(heartbeat)
      process.write('release\n')
      process.end()
      // Closing the channel releases it on the host in any case; do not hang the job on it.
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        process.done.catch(() => undefined),
        new Promise(resolve => (timer = setTimeout(resolve, 10_000)))
      ])
      clearTimeout(timer)
    }
  }
}

/**
 * The deploy lock for `settings.image`, with what every caller tells the user: who holds it while
 * waiting, and a warning when a dead holder's lock is taken over. `where` names the host when
 * there are several.
 */
export function takeDeployLock(
  shell: RemoteShell,
  settings: { image: { repository: string }; lockTimeoutSec: number },
  holder: LockHolder,
  runner: { info(message: string): void; warning(message: string, title?: string): void },
  where = ''
): Promise<HeldLock> {
  const on = where ? ` on ${where}` : ''
  return acquireLock(shell, {
    repository: settings.image.repository,
    holder,
    timeoutSec: settings.lockTimeoutSec,
    onWait: held => runner.info(`Waiting for the deploy lock${on}, held by ${held}`),
    onTakeover: detail =>
      runner.warning(
        `Took over a deploy lock${on} left by a run that is gone: ${detail}.`,
        'Stale deploy lock'
      )
  })
}

/** `owner/repo run 4242 (commit abc1234, by alice) since 2026-11-25T14:00:00Z` */
export function describeHolder(raw: string): string {
  try {
    const holder = JSON.parse(raw) as LockHolder
    const parts = [holder.repository, holder.run].filter(Boolean).join(' ') || 'a deploy'
    const by = holder.actor ? `, by ${holder.actor}` : ''
    return `${parts} (commit ${holder.commit.slice(0, 12)}${by}) since ${holder.since}`
  } catch {
    return raw.trim() || 'an unknown holder'
  }
}
