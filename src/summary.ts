import type { DeployReport } from './deploy.js'
import { formatDuration, short } from './format.js'
import { deliveryFigures, historyChart, humanDuration } from './release/figures.js'

const HEADLINES: Record<DeployReport['outcome'], string> = {
  deployed: '✅ Deployed',
  unchanged: '⏭️ Nothing to deploy',
  'dry-run': '🔍 Dry run',
  failed: '❌ Deploy failed',
  'rolled-back': '↩️ Deploy failed and was rolled back'
}

/** The job summary: what went out, how long each step took, and what to do when it failed. */
export function renderSummary(report: DeployReport, now = new Date()): string {
  const sections = [
    headline,
    beforeAfter,
    hosts,
    swarm,
    rollback,
    hooks,
    commits,
    changedFiles,
    retention,
    plan,
    steps,
    history,
    delivery
  ]
  return sections.flatMap(section => section(report, now)).join('\n') + '\n'
}

function headline(report: DeployReport): string[] {
  const title =
    report.action === 'rollback' && report.outcome === 'deployed'
      ? '↩️ Rolled back'
      : HEADLINES[report.outcome]
  const lines = [`## ${title}: \`${report.image}\` on ${report.host}`, '']
  if (report.reason)
    lines.push(report.outcome === 'unchanged' ? report.reason : quoteBlock(report.reason), '')
  return lines
}

function beforeAfter(report: DeployReport): string[] {
  const lines = ['| | before | after |', '|---|---|---|']
  lines.push(`| commit | ${code(report.previousCommit)} | ${code(report.commit)} |`)
  lines.push(`| image | ${code(short(report.previousImageId))} | ${code(short(report.imageId))} |`)
  if (report.productionContainer)
    lines.push(`| container | ${report.productionContainer} | ${code(short(report.containerId))} |`)
  if (report.retention)
    lines.push(
      `| disk used by images | ${report.retention.diskBefore} | ${report.retention.diskAfter} |`
    )
  return [...lines, '']
}

function hosts(report: DeployReport): string[] {
  if (!report.hosts) return []
  return [
    '### Hosts',
    '',
    '| host | result | commit | image | container |',
    '|---|---|---|---|---|',
    ...report.hosts.map(
      host =>
        `| ${host.host} | ${host.outcome} | ${code(host.commit?.slice(0, 12))} | ${code(short(host.imageId))} | ${code(short(host.containerId))} |`
    ),
    ''
  ]
}

function swarm(report: DeployReport): string[] {
  if (!report.swarm?.state) return []
  const { service, image, state, message } = report.swarm
  return [
    '### Swarm',
    '',
    `Service \`${service}\`: update ${state.replace(/_/g, ' ')}${message ? ` (${message})` : ''}; it runs \`${image}\`.`,
    ''
  ]
}

function rollback(report: DeployReport): string[] {
  const lines: string[] = []
  if (report.rollbackDetail) lines.push('### Rollback', '', quoteBlock(report.rollbackDetail), '')
  if (report.flattened) {
    lines.push(
      `The image had ${report.flattened.layersBefore} layers, so the release was written flattened: ${report.flattened.layersAfter} layers, config carried over.`,
      ''
    )
  }
  return lines
}

/** Each deploy hook that ran: its exit code, time and the last lines of its output. */
function hooks(report: DeployReport): string[] {
  if (!report.hooks?.length) return []
  return [
    '### Hooks',
    '',
    ...report.hooks.flatMap(hook => {
      const result = hook.code === 0 ? '✓ exit code 0' : `✗ exit code ${hook.code}`
      const head = `\`${hook.name}\`: ${result}, ${formatDuration(hook.durationMs)}`
      if (!hook.tail) return [`${head}, no output.`, '']
      // A fence longer than any run of backticks in the output, so the output cannot close it.
      const fence = '`'.repeat(
        Math.max(3, ...(hook.tail.match(/`+/g) ?? []).map(r => r.length + 1))
      )
      return [`${head}; the last lines of its output:`, '', fence, hook.tail, fence, '']
    })
  ]
}

function commits(report: DeployReport): string[] {
  if (report.commits.length === 0) return []
  const source =
    report.rangeSource === 'github'
      ? ' (from GitHub)'
      : report.rangeSource === 'git'
        ? ' (from git on the host)'
        : ''
  return [
    `### ${report.commits.length} commit${report.commits.length === 1 ? '' : 's'}${source}`,
    '',
    '```',
    ...report.commits,
    '```',
    ''
  ]
}

function changedFiles(report: DeployReport): string[] {
  if (report.changedFiles?.length) {
    const files = report.changedFiles.slice(0, 100)
    const more =
      report.changedFiles.length > files.length
        ? [`… and ${report.changedFiles.length - files.length} more`]
        : []
    return details(`${report.changedFiles.length} changed files`, [...files, ...more])
  }
  return report.diffStat ? details('Changed files', [report.diffStat]) : []
}

function details(summary: string, block: string[]): string[] {
  return [
    `<details><summary>${summary}</summary>`,
    '',
    '```',
    ...block,
    '```',
    '',
    '</details>',
    ''
  ]
}

function retention(report: DeployReport): string[] {
  if (report.retentionAfter) {
    return [
      `Retention: the release is tagged ${report.retentionAfter.tag} and the last ${report.retentionAfter.keep} releases are kept, on the host once the deploy lock is released (it does not delay the deploy; the next deploy waits for it).`,
      ''
    ]
  }
  const kept = report.retention
  if (!kept || (kept.removed.length === 0 && kept.pruned === 0)) return []
  return [
    `Retention: kept ${kept.kept.join(', ')}; removed ${kept.removed.join(', ') || 'no tags'} and ${kept.pruned} unused images.`,
    ''
  ]
}

function plan(report: DeployReport): string[] {
  if (!report.plan) return []
  return ['### Plan', '', ...report.plan.map((line, i) => `${i + 1}. ${line}`), '']
}

function steps(report: DeployReport): string[] {
  return [
    '### Steps',
    '',
    '| step | result | time |',
    '|---|---|---|',
    ...report.steps.map(
      step =>
        `| ${escapeCell(step.name)} | ${step.status === 'ok' ? '✓' : '✗'} | ${formatDuration(step.durationMs)} |`
    )
  ]
}

function history(report: DeployReport): string[] {
  if (!report.history?.length) return []
  return [
    '',
    '### Recent deploys on this host',
    '',
    '| when | action | result | from | to | by | time |',
    '|---|---|---|---|---|---|---|',
    ...report.history
      .slice(-5)
      .reverse()
      .map(entry => {
        const run = entry.run ? `[${entry.by ?? 'run'}](${entry.run})` : (entry.by ?? '')
        return `| ${entry.time} | ${entry.action} | ${entry.result} | ${code(entry.fromCommit?.slice(0, 7))} | ${code(entry.toCommit?.slice(0, 7))} | ${run} | ${entry.durationSec} s |`
      })
  ]
}

function code(value: string | undefined): string {
  return value ? `\`${value}\`` : '–'
}

function quoteBlock(text: string): string {
  return text
    .split('\n')
    .map(line => `> ${line}`)
    .join('\n')
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

/** The four delivery figures of the last 30 days and a chart of the last deploys. */
function delivery(report: DeployReport, now: Date): string[] {
  if (!report.history?.length) return []
  const figures = deliveryFigures(report.history, now)
  const chart = historyChart(report.history)
  const rate = figures.changeFailureRate
  const or = (value: number | undefined, show: (v: number) => string) =>
    value === undefined ? '–' : show(value)
  return [
    '',
    `### Delivery on this host, the last ${figures.days} days`,
    '',
    '| deploys a week | change failure rate | time to restore | lead time |',
    '|---|---|---|---|',
    `| ${figures.deploysPerWeek} | ${or(rate, r => `${Math.round(r * 100)} % of ${figures.attempts}`)} | ${or(figures.timeToRestoreSec, humanDuration)} | ${or(figures.leadTimeSec, humanDuration)} |`,
    ...(chart ? ['', chart] : [])
  ]
}
