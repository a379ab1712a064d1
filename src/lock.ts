import { lock as LOCK } from './remote/scripts.js'
import { QUICK_MS } from './host.js'
import {
  shScript,
  toShell,
  type Command,
  type ExecResult,
  type RemoteProcess,
  type RemoteShell
} from './shell.js'

/** Who holds the deploy lock, written into it so a waiting run can say so. */
export interface LockHolder {
  repository?: string
  run?: string
  commit: string
  actor?: string
  since: string
}

/** A holder that sends no heartbeat for this long is stopped by its watchdog (runner lost). */
const STALE_AFTER_SEC = 60
const HEARTBEAT_MS = 10_000

/*
 * The lock is a `flock` on a file, held by the script src/remote/lock.sh while it runs in the
 * run's SSH channel: the kernel releases it when the holder ends, however it ends, so no waiter
 * ever has to judge a holder dead and take its lock over (two waiters doing so at once could both
 * get it).
 *
 * It lives in /run/lock/hermes-deploy (else /var/lock, else the user's home): one directory for
 * every user of the docker group, since deploys that log in as different users share the engine.
 * The file is per image repository and per Docker engine (DOCKER_HOST), as one host may run
 * several engines. HERMES_LOCK_DIR overrides the directory, for tests and hosts whose /run/lock
 * does not suit; it is then used alone, never falling back to a lock the others do not see.
 *
 * Each line the runner sends is a heartbeat; `release` or end of input (the run ended, was killed,
 * or its connection dropped) releases. A holder that is alive but silent for $3 s (a runner cut
 * off without the TCP connection closing) is stopped by its watchdog. The holder writes who it is
 * into the file for waiters to show, and empties it on a clean release: text found in it on
 * acquiring is from a holder that ended without releasing. Nothing that outlives the holder may
 * keep fd 9 (the lock) open, hence the `9<&-`.
 */

export interface HeldLock {
  release(): Promise<void>
  /**
   * Run `command` on the host once the lock is released, detached from this run and still
   * holding the lock: the job does not wait for it, the next deploy does.
   */
  after(command: Command): void
  /** What the command given to run once the lock was taken printed (stdout and stderr). */
  readonly then?: ExecResult
}

class LockTimeoutError extends Error {}

/** The lock's holder script, with its parameters: exported so tests can run it under a local sh. */
export function lockCommand(
  repository: string,
  timeoutSec: number,
  staleSec: number,
  holder: LockHolder,
  then?: Command
) {
  return shScript(
    LOCK,
    lockName(repository),
    String(timeoutSec),
    String(staleSec),
    JSON.stringify(holder),
    ...(then ? [Buffer.from(toShell(then)).toString('base64')] : [])
  )
}

/** The `then <base64>` line: the command's output, then `#exit <code>`. */
function parseThen(encoded: string): ExecResult {
  const text = Buffer.from(encoded, 'base64').toString('utf8').replace(/\n$/, '')
  const exit = text.lastIndexOf('#exit ')
  return {
    code: exit >= 0 ? Number(text.slice(exit + 6)) : 255,
    stdout: exit >= 0 ? text.slice(0, exit) : text,
    stderr: ''
  }
}

export function lockName(repository: string): string {
  return repository.replace(/[^A-Za-z0-9._-]/g, '_')
}

/**
 * Take the deploy lock for an image repository, waiting up to `timeoutSec` for a run that holds
 * it. `onWait` hears who holds it; `onTakeover` hears when a dead holder's lock was taken over.
 */
async function acquireLock(
  shell: RemoteShell,
  options: {
    repository: string
    holder: LockHolder
    timeoutSec: number
    onWait: (holder: string) => void
    onTakeover: (detail: string) => void
    /** Run on the host as soon as the lock is held, in the same round trip. */
    then?: Command
  }
): Promise<HeldLock> {
  let buffered = ''
  let acquired: () => void = () => {}
  const ready = new Promise<void>(resolve => (acquired = resolve))
  let ran: (result: ExecResult) => void = () => {}
  const thenDone = new Promise<ExecResult>(resolve => (ran = resolve))
  const process: RemoteProcess = shell.spawn(
    lockCommand(
      options.repository,
      options.timeoutSec,
      STALE_AFTER_SEC,
      options.holder,
      options.then
    ),
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
          else if (line.startsWith('then ')) ran(parseThen(line.slice(5)))
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

  let then: ExecResult | undefined
  if (options.then) {
    let timer: NodeJS.Timeout | undefined
    const outcome = await Promise.race<{ ran?: ExecResult; ended?: ExecResult }>([
      thenDone.then(ran => ({ ran })),
      process.done.then(ended => ({ ended })),
      new Promise(resolve => (timer = setTimeout(() => resolve({}), QUICK_MS)))
    ]).finally(() => clearTimeout(timer))
    if (!outcome.ran) {
      process.end()
      const { ended } = outcome
      throw new Error(
        ended
          ? `The deploy lock's holder ended (exit ${ended.code}) before reading the host: ${(ended.stderr || ended.stdout).trim()}`
          : `Reading the host did not finish within ${QUICK_MS / 1000} s of taking the deploy lock.`
      )
    }
    then = outcome.ran
  }

  const heartbeat = setInterval(() => process.write('\n'), HEARTBEAT_MS)
  heartbeat.unref()
  return {
    then,
    after: command => process.write(`after ${Buffer.from(toShell(command)).toString('base64')}\n`),
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
  where = '',
  then?: Command
): Promise<HeldLock> {
  const on = where ? ` on ${where}` : ''
  return acquireLock(shell, {
    repository: settings.image.repository,
    holder,
    timeoutSec: settings.lockTimeoutSec,
    then,
    onWait: held => runner.info(`Waiting for the deploy lock${on}, held by ${held}`),
    onTakeover: detail =>
      runner.warning(
        `Took over a deploy lock${on} left by a run that is gone: ${detail}.`,
        'Stale deploy lock'
      )
  })
}

/** `owner/repo run 4242 (commit abc1234, by alice) since 2026-11-25T14:00:00Z` */
function describeHolder(raw: string): string {
  try {
    const holder = JSON.parse(raw) as LockHolder
    const parts = [holder.repository, holder.run].filter(Boolean).join(' ') || 'a deploy'
    const by = holder.actor ? `, by ${holder.actor}` : ''
    return `${parts} (commit ${holder.commit.slice(0, 12)}${by}) since ${holder.since}`
  } catch {
    return raw.trim() || 'an unknown holder'
  }
}
