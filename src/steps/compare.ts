import { short } from '../format.js'
import { decidePaths } from '../github/paths.js'
import type { Run } from './run.js'

/** The step's name: the range it compares. */
export const compareStep = (run: Run) =>
  `Compare ${short(run.report.previousCommit)}..${short(run.settings.ref)}`

/**
 * Step 5: what is going out, the commits and files from production's commit to `ref`, from
 * GitHub's compare API when it answers. Returns why nothing should be deployed (`paths` matches
 * no changed file), or undefined.
 */
export async function compareRange(run: Run): Promise<string | undefined> {
  const { settings, runner, report, deps } = run
  const range = deps.compare ? await deps.compare(report.previousCommit!, settings.ref) : undefined
  if (range?.source === 'github') {
    report.rangeSource = 'github'
    report.commits = range.commits.map(c => `${c.sha.slice(0, 7)} ${c.subject} (${c.author})`)
    report.changedFiles = range.files
    runner.info(
      `${range.commits.length} commits, ${range.files.length} files changed (GitHub compare: ${range.status})`
    )
    report.commits.forEach(line => runner.info(`  ${line}`))
  } else if (range) {
    runner.info(
      `GitHub's compare API is not available (${range.reason}); the range comes from git on the host.`
    )
  }
  const decision = decidePaths(settings.paths, range?.source === 'github' ? range : undefined)
  if (decision.reason && decision.deploy) runner.info(decision.reason)
  return decision.deploy ? undefined : decision.reason
}
