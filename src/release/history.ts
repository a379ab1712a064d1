import type { DeployDeps, DeployReport } from '../deploy.js'
import { message } from '../format.js'
import type { Host } from '../host.js'
import type { Settings } from '../inputs.js'
import type { Runner } from '../runner.js'
import { lockName, type HeldLock } from '../lock.js'
import { appendHistory as APPEND } from '../remote/scripts.js'
import { shScript, type Command } from '../shell.js'

/** One line per deploy, rollback and failed attempt, in ~/.hermes-deploy/history on the host. */
export interface HistoryEntry {
  time: string
  action: 'deploy' | 'rollback'
  result: 'deployed' | 'rolled-back' | 'failed'
  by?: string
  run?: string
  fromCommit?: string
  toCommit?: string
  /** When the deployed commit was committed, for the lead time. */
  commitTime?: string
  fromImage?: string
  toImage?: string
  durationSec: number
  reason?: string
}

/** Append an entry and print the last `show` entries. */
export function appendHistory(name: string, entry: HistoryEntry, show: number): Command {
  return shScript(APPEND, name, JSON.stringify(entry), String(show))
}

export function parseHistory(output: string): HistoryEntry[] {
  return output
    .split('\n')
    .filter(line => line.startsWith('{'))
    .flatMap(line => {
      try {
        return [JSON.parse(line) as HistoryEntry]
      } catch {
        return []
      }
    })
}

/**
 * One JSON line per attempt in the history on the host; the summary shows the last few. With the
 * deploy lock, the line is written on the host after the job (`lock.after`), and the summary's
 * history is what the survey read (`shown`) and this attempt: no round trip on the way out.
 */
export async function recordAttempt(
  host: Host,
  settings: Settings,
  deps: DeployDeps,
  report: DeployReport,
  durationMs: number,
  recorded?: { lock: HeldLock; shown?: string }
): Promise<void> {
  const entry: HistoryEntry = {
    time: new Date().toISOString(),
    action: report.action,
    result:
      report.outcome === 'deployed'
        ? 'deployed'
        : report.outcome === 'rolled-back'
          ? 'rolled-back'
          : 'failed',
    by: deps.holder.actor,
    run: deps.holder.run,
    fromCommit: report.previousCommit,
    toCommit: report.commit,
    commitTime: report.action === 'deploy' ? report.commitTime : undefined,
    fromImage: report.previousImageId,
    toImage: report.imageId,
    durationSec: Math.round(durationMs / 100) / 10,
    ...(report.outcome === 'deployed' ? {} : { reason: report.reason?.split('\n')[0] })
  }
  if (recorded) {
    recorded.lock.after(appendHistory(lockName(settings.image.repository), entry, 0))
    report.history =
      recorded.shown === undefined
        ? undefined
        : [...parseHistory(recorded.shown), entry].slice(-SHOWN)
    return
  }
  report.history = await writeHistory(host, settings, entry, deps.runner)
}

/** How many of the last entries come back for the summary: its table, chart and figures. */
const SHOWN = 200

/** Append an entry to the host's history; returns the last ones (none when it could not). */
export async function writeHistory(
  host: Host,
  settings: Pick<Settings, 'image'>,
  entry: HistoryEntry,
  runner: Runner
): Promise<HistoryEntry[] | undefined> {
  try {
    return parseHistory(
      await host.run(appendHistory(lockName(settings.image.repository), entry, SHOWN), 'history')
    )
  } catch (error) {
    runner.warning(`Could not write the deploy history on the host: ${message(error)}`)
    return undefined
  }
}
