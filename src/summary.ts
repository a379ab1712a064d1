import type { DeployReport } from './deploy.js'
import { formatDuration, short } from './format.js'

const HEADLINES: Record<DeployReport['outcome'], string> = {
  deployed: '✅ Deployed',
  unchanged: '⏭️ Nothing to deploy',
  'dry-run': '🔍 Dry run',
  failed: '❌ Deploy failed',
  'rolled-back': '↩️ Deploy failed and was rolled back'
}

/** The job summary: what went out, how long each step took, and what to do when it failed. */
export function renderSummary(report: DeployReport): string {
  const lines: string[] = []
  const headline =
    report.action === 'rollback' && report.outcome === 'deployed'
      ? '↩️ Rolled back'
      : HEADLINES[report.outcome]
  lines.push(`## ${headline}: \`${report.image}\` on ${report.host}`, '')
  if (report.reason)
    lines.push(report.outcome === 'unchanged' ? report.reason : quoteBlock(report.reason), '')

  lines.push('| | before | after |', '|---|---|---|')
  lines.push(`| commit | ${code(report.previousCommit)} | ${code(report.commit)} |`)
  lines.push(`| image | ${code(short(report.previousImageId))} | ${code(short(report.imageId))} |`)
  if (report.productionContainer)
    lines.push(`| container | ${report.productionContainer} | ${code(short(report.containerId))} |`)
  if (report.retention)
    lines.push(
      `| disk used by images | ${report.retention.diskBefore} | ${report.retention.diskAfter} |`
    )
  lines.push('')

  if (report.hosts) {
    lines.push(
      '### Hosts',
      '',
      '| host | result | commit | image | container |',
      '|---|---|---|---|---|'
    )
    for (const host of report.hosts) {
      lines.push(
        `| ${host.host} | ${host.outcome} | ${code(host.commit?.slice(0, 12))} | ${code(short(host.imageId))} | ${code(short(host.containerId))} |`
      )
    }
    lines.push('')
  }
  if (report.swarm?.state) {
    const { service, image, state, message } = report.swarm
    lines.push(
      '### Swarm',
      '',
      `Service \`${service}\`: update ${state.replace(/_/g, ' ')}${message ? ` (${message})` : ''}; it runs \`${image}\`.`,
      ''
    )
  }
  if (report.rollbackDetail) lines.push('### Rollback', '', quoteBlock(report.rollbackDetail), '')
  if (report.flattened) {
    lines.push(
      `The image had ${report.flattened.layersBefore} layers, so the release was written flattened: ${report.flattened.layersAfter} layers, config carried over.`,
      ''
    )
  }

  if (report.commits.length > 0) {
    const source =
      report.rangeSource === 'github'
        ? ' (from GitHub)'
        : report.rangeSource === 'git'
          ? ' (from git on the host)'
          : ''
    lines.push(
      `### ${report.commits.length} commit${report.commits.length === 1 ? '' : 's'}${source}`,
      ''
    )
    lines.push('```', ...report.commits, '```', '')
  }
  if (report.changedFiles?.length) {
    const files = report.changedFiles.slice(0, 100)
    const more =
      report.changedFiles.length > files.length
        ? [`… and ${report.changedFiles.length - files.length} more`]
        : []
    lines.push(
      `<details><summary>${report.changedFiles.length} changed files</summary>`,
      '',
      '```',
      ...files,
      ...more,
      '```',
      '',
      '</details>',
      ''
    )
  } else if (report.diffStat) {
    lines.push(
      '<details><summary>Changed files</summary>',
      '',
      '```',
      report.diffStat,
      '```',
      '',
      '</details>',
      ''
    )
  }
  if (report.retention && (report.retention.removed.length > 0 || report.retention.pruned > 0)) {
    lines.push(
      `Retention: kept ${report.retention.kept.join(', ')}; removed ${report.retention.removed.join(', ') || 'no tags'} and ${report.retention.pruned} unused images.`,
      ''
    )
  }
  if (report.plan)
    lines.push('### Plan', '', ...report.plan.map((line, i) => `${i + 1}. ${line}`), '')

  lines.push('### Steps', '', '| step | result | time |', '|---|---|---|')
  for (const step of report.steps) {
    const mark = step.status === 'ok' ? '✓' : '✗'
    lines.push(`| ${escapeCell(step.name)} | ${mark} | ${formatDuration(step.durationMs)} |`)
  }
  if (report.history?.length) {
    lines.push(
      '',
      '### Recent deploys on this host',
      '',
      '| when | action | result | from | to | by | time |',
      '|---|---|---|---|---|---|---|'
    )
    for (const entry of [...report.history].reverse()) {
      const run = entry.run ? `[${entry.by ?? 'run'}](${entry.run})` : (entry.by ?? '')
      lines.push(
        `| ${entry.time} | ${entry.action} | ${entry.result} | ${code(entry.fromCommit?.slice(0, 7))} | ${code(entry.toCommit?.slice(0, 7))} | ${run} | ${entry.durationSec} s |`
      )
    }
  }
  return lines.join('\n') + '\n'
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
