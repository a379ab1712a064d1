import { describe, expect, it } from '@jest/globals'
import type { DeployReport } from '../src/deploy.js'
import { deliveryFigures, historyChart, humanDuration } from '../src/release/figures.js'
import type { HistoryEntry } from '../src/release/history.js'
import { renderSummary } from '../src/summary.js'

const NOW = new Date('2026-12-01T12:00:00Z')
const entry = (
  time: string,
  result: HistoryEntry['result'],
  more: Partial<HistoryEntry> = {}
): HistoryEntry => ({
  time,
  action: 'deploy',
  result,
  durationSec: 10,
  ...more
})

// Four weeks on one host: six good deploys, a release rolled back and fixed two hours later, a
// failed attempt fixed the next day, a rollback on demand, and one deploy too old to count.
const HISTORY: HistoryEntry[] = [
  entry('2026-10-20T10:00:00Z', 'deployed'),
  entry('2026-11-04T09:00:00Z', 'deployed', { commitTime: '2026-11-04T08:00:00Z' }),
  entry('2026-11-10T09:00:00Z', 'rolled-back', { durationSec: 31.5 }),
  entry('2026-11-10T11:00:00Z', 'deployed', { commitTime: '2026-11-10T10:30:00Z' }),
  entry('2026-11-18T16:00:00Z', 'failed', { durationSec: 4 }),
  entry('2026-11-19T16:00:00Z', 'deployed', { commitTime: '2026-11-19T13:00:00Z' }),
  entry('2026-11-20T16:00:00Z', 'deployed', { action: 'rollback' }),
  entry('2026-11-25T09:00:00Z', 'deployed'),
  entry('2026-11-28T09:00:00Z', 'deployed', { commitTime: '2026-11-27T09:00:00Z' }),
  entry('2026-11-30T09:00:00Z', 'deployed', { durationSec: 12.4 })
]

describe('the delivery figures of a host’s history', () => {
  it('counts the last 30 days: deploys a week, change failure rate, time to restore, lead time', () => {
    expect(deliveryFigures(HISTORY, NOW)).toEqual({
      days: 30,
      // 8 attempts in the window (not the rollback on demand, not October's), 6 deployed.
      attempts: 8,
      deploysPerWeek: 1.4,
      changeFailureRate: 2 / 8,
      // 2 h after the rollback, 24 h after the failed attempt: the median of the two.
      timeToRestoreSec: 13 * 3600,
      // 1 h, 30 min, 3 h, 24 h: the median of the four.
      leadTimeSec: (3600 + 3 * 3600) / 2
    })
  })

  it('has nothing to say of an empty window', () => {
    expect(deliveryFigures([], NOW)).toEqual({
      days: 30,
      attempts: 0,
      deploysPerWeek: 0,
      changeFailureRate: undefined,
      timeToRestoreSec: undefined,
      leadTimeSec: undefined
    })
  })

  it('charts the last deploys’ durations, each marked with its outcome', () => {
    expect(historyChart(HISTORY.slice(-3))).toBe(
      [
        '```mermaid',
        'xychart-beta',
        '  title "The last 3 deploys on this host (✓ deployed, ↩ rolled back, ✗ failed)"',
        '  x-axis ["11-25 09:00 ✓", "11-28 09:00 ✓", "11-30 09:00 ✓"]',
        '  y-axis "seconds"',
        '  bar [10, 10, 12.4]',
        '```'
      ].join('\n')
    )
    expect(historyChart(HISTORY.slice(-1))).toBeUndefined()
  })

  it.each([
    [45, '45 s'],
    [600, '10 min'],
    [7200, '2 h'],
    [129_600, '1.5 d']
  ])('writes %i s as %s', (seconds, text) => {
    expect(humanDuration(seconds)).toBe(text)
  })
})

describe('the job summary with a history', () => {
  it('shows the last deploys, the four figures and the chart', () => {
    const report: DeployReport = {
      outcome: 'deployed',
      action: 'deploy',
      image: 'texasca/api:latest',
      host: '203.0.113.10',
      steps: [{ name: 'Connect', status: 'ok', durationMs: 80 }],
      commits: ['abc1234 Change the greeting (Ada)'],
      rangeSource: 'git',
      previousCommit: 'a'.repeat(40),
      commit: 'b'.repeat(40),
      rolledBack: false,
      history: HISTORY
    }
    expect(renderSummary(report, NOW)).toMatchSnapshot()
  })
})
