import { decideUpdate } from '../decide.js'
import { message, short } from '../format.js'
import * as git from '../git.js'
import type { Relation } from '../git.js'
import { decidePaths } from '../github/paths.js'
import { DeployError, QUICK_MS, SLOW_MS, type Host } from '../host.js'
import type { Admin } from './admin.js'
import { unreadable } from './production.js'
import type { Run } from './run.js'

/**
 * Step 7: check the tree (the runbook's `git diff` before pulling), and fetch. When nothing but
 * the relation decides the update (no `paths` for git on the host to rule on), step 8's
 * fast-forward goes in the same round trip.
 */
export async function checkCheckout(run: Run, host: Host, admin: Admin): Promise<Relation> {
  const { settings, runner, report } = run
  const update = !pathsOnHost(run)
  const relation = git.parseRelation(
    await host
      .runIn(
        admin.command(git.fetchAndRelate(settings.branch, settings.ref, update)),
        `git status; git fetch origin ${settings.branch}${update ? '; git merge --ff-only' : ''}`,
        SLOW_MS
      )
      .catch((error: unknown) => {
        // The first use of repo-path (unless production's commit was read in production): a
        // directory that is not there, or not a checkout, is the input's fault; say so.
        const why = message(error)
        if (/chdir to cwd|not a git repository/.test(why)) {
          throw unreadable(admin.name, settings.repoPath, why)
        }
        throw error
      })
  )
  // Production's commit, unless read in production before: the admin container is its image.
  report.previousCommit ??= relation.head
  if (relation.changed) {
    throw new DeployError(
      `The checkout at ${settings.repoPath} in the production image has uncommitted changes:\n${relation.changed}\n` +
        'They would be lost or shipped by accident. Commit them to the repository or discard them on the host, then deploy again.'
    )
  }
  runner.info('No local changes')
  return relation
}

/** The step's name: where the commit comes from. */
export const updateStep = (run: Run) =>
  `Update to ${run.settings.ref} from origin/${run.settings.branch}`

/**
 * Step 8: update to the exact commit from origin, fast-forward only. Returns the commit, or why
 * there is nothing to release (production has it already; `paths` matches no changed file).
 */
export async function updateCheckout(
  run: Run,
  host: Host,
  admin: Admin,
  relation: Relation
): Promise<{ commit: string } | { skip: string }> {
  const { settings, runner, report } = run
  const decision = decideUpdate(settings, relation)
  if (decision.kind === 'refuse') throw new DeployError(decision.message)
  if (decision.kind === 'unchanged') return { skip: decision.message }
  if (pathsOnHost(run)) {
    // GitHub's API gave no file list: the path filter decides from git on the host.
    const files = (
      await host.runIn(
        admin.command(git.filesBetween(relation.head, relation.target)),
        'git diff --name-only',
        QUICK_MS
      )
    )
      .split('\n')
      .filter(Boolean)
    report.changedFiles = files
    const paths = decidePaths(settings.paths, { files, truncated: false })
    if (!paths.deploy) return { skip: paths.reason }
  }
  // Fast-forwarded with the check, unless `paths` had to rule first or `force` releases HEAD again.
  const range =
    relation.updated ??
    git.parseRange(
      await host.runIn(
        admin.command(git.fastForward(relation.target)),
        'git merge --ff-only',
        QUICK_MS
      )
    )
  if (report.rangeSource !== 'github') {
    report.rangeSource = 'git'
    report.commits = range.commits
  }
  report.diffStat = range.diffStat
  report.commitTime = range.committedAt
  runner.info(
    `Deploying ${short(relation.head)}..${short(relation.target)} (${range.commits.length} commits):`
  )
  for (const line of range.commits) runner.info(`  ${line}`)
  if (range.diffStat) runner.info(range.diffStat)
  return { commit: relation.target }
}

/** Whether `paths` is to rule on the files git on the host lists (GitHub's API listed none). */
function pathsOnHost({ settings, report }: Run): boolean {
  return settings.paths.length > 0 && !report.changedFiles && !settings.force
}
