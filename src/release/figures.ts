import type { HistoryEntry } from './history.js'

/*
 * The deploy history on the host, as teams track delivery: the four figures of the last 30 days
 * and a chart of the last deploys. Pure functions of the history lines and the time now.
 */

export interface DeliveryFigures {
  days: number
  /** Deploy attempts in the window (rollbacks on demand not counted). */
  attempts: number
  deploysPerWeek: number
  /** Attempts rolled back or failed, of all attempts; undefined without attempts. */
  changeFailureRate?: number
  /** Median time from a failed attempt to the next good deploy. */
  timeToRestoreSec?: number
  /** Median time from a deployed commit's commit time to its deploy. */
  leadTimeSec?: number
}

export function deliveryFigures(history: HistoryEntry[], now: Date, days = 30): DeliveryFigures {
  const since = now.getTime() - days * 86_400_000
  const at = (entry: HistoryEntry) => Date.parse(entry.time)
  const inWindow = history.filter(e => at(e) >= since && at(e) <= now.getTime())
  const attempts = inWindow.filter(e => e.action === 'deploy')
  const deployed = attempts.filter(e => e.result === 'deployed')
  const failed = attempts.filter(e => e.result !== 'deployed')
  const restores = failed.flatMap(failure => {
    const next = history.find(e => at(e) > at(failure) && e.result === 'deployed')
    return next ? [(at(next) - at(failure)) / 1000] : []
  })
  const leads = deployed.flatMap(e =>
    e.commitTime && !Number.isNaN(Date.parse(e.commitTime))
      ? [(at(e) - Date.parse(e.commitTime)) / 1000]
      : []
  )
  return {
    days,
    attempts: attempts.length,
    deploysPerWeek: Math.round((deployed.length / (days / 7)) * 10) / 10,
    changeFailureRate: attempts.length ? failed.length / attempts.length : undefined,
    timeToRestoreSec: median(restores),
    leadTimeSec: median(leads)
  }
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const MARKS: Record<HistoryEntry['result'], string> = {
  deployed: '✓',
  'rolled-back': '↩',
  failed: '✗'
}

/** A Mermaid bar chart (GitHub renders it) of the last deploys' durations, marked by outcome. */
export function historyChart(history: HistoryEntry[], last = 15): string | undefined {
  const shown = history.slice(-last)
  if (shown.length < 2) return undefined
  const labels = shown.map(e => `"${e.time.slice(5, 16).replace('T', ' ')} ${MARKS[e.result]}"`)
  return [
    '```mermaid',
    'xychart-beta',
    `  title "The last ${shown.length} deploys on this host (✓ deployed, ↩ rolled back, ✗ failed)"`,
    `  x-axis [${labels.join(', ')}]`,
    '  y-axis "seconds"',
    `  bar [${shown.map(e => e.durationSec).join(', ')}]`,
    '```'
  ].join('\n')
}

/** A duration as people read it: 45 s, 12 min, 3.5 h, 2.1 d. */
export function humanDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`
  if (seconds < 129_600) return `${Math.round((seconds / 3600) * 10) / 10} h`
  return `${Math.round((seconds / 86_400) * 10) / 10} d`
}
