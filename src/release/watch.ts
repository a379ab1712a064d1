import {
  diagnose as DIAGNOSE,
  watchCanary as CANARY,
  watchStable as STABLE
} from '../remote/scripts.js'
import { shScript, type Command } from '../shell.js'

/*
 * Watching a release run, on the host (no round trip per poll): the canary before the swap, and
 * the stability window after it. Both print why a container failed: its exit code, whether it was
 * OOM-killed, and the last lines of its log.
 */

/** The canary must stay up `seconds`, then pass `command` (if any) inside it within `timeout`. */
export function watchCanary(
  container: string,
  seconds: number,
  command: string,
  timeoutSec: number
): Command {
  return shScript(CANARY, container, String(seconds), command, String(timeoutSec))
}

/** Why a container failed: its state and the last lines of its log. */
export function diagnose(container: string, lines = 20): Command {
  return shScript(DIAGNOSE, container, String(lines))
}

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
