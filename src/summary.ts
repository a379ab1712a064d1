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
  lines.push(`## ${HEADLINES[report.outcome]}: \`${report.image}\` on ${report.host}`, '')
  if (report.reason)
    lines.push(report.outcome === 'unchanged' ? report.reason : quoteBlock(report.reason), '')

  lines.push('| | before | after |', '|---|---|---|')
  lines.push(`| commit | ${code(report.previousCommit)} | ${code(report.commit)} |`)
  lines.push(`| image | ${code(short(report.previousImageId))} | ${code(short(report.imageId))} |`)
  if (report.productionContainer)
    lines.push(`| container | ${report.productionContainer} | ${code(short(report.containerId))} |`)
  lines.push('')

  if (report.rollbackDetail) lines.push('### Rollback', '', quoteBlock(report.rollbackDetail), '')

  if (report.commits.length > 0) {
    lines.push(`### ${report.commits.length} commit${report.commits.length === 1 ? '' : 's'}`, '')
    lines.push('```', ...report.commits, '```', '')
  }
  if (report.diffStat)
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
  if (report.plan)
    lines.push('### Plan', '', ...report.plan.map((line, i) => `${i + 1}. ${line}`), '')

  lines.push('### Steps', '', '| step | result | time |', '|---|---|---|')
  for (const step of report.steps) {
    const mark = step.status === 'ok' ? '✓' : step.status === 'failed' ? '✗' : '–'
    lines.push(`| ${escapeCell(step.name)} | ${mark} | ${formatDuration(step.durationMs)} |`)
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
