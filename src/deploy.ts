import { canary } from './release/canary.js'
import type { CommitRange } from './github/compare.js'
import { message } from './format.js'
import { DeployError, Host } from './host.js'
import type { Settings } from './inputs.js'
import { takeDeployLock, type HeldLock, type LockHolder } from './lock.js'
import { dryRun } from './plan.js'
import type { HistoryEntry } from './release/history.js'
import type { Retention } from './release/retention.js'
import type { Runner } from './runner.js'
import type { RemoteShell } from './shell.js'
import type { Progress } from './state.js'
import { createAdminContainer } from './steps/admin.js'
import { build, buildStep } from './steps/build.js'
import { checkCheckout, updateCheckout, updateStep } from './steps/checkout.js'
import { cleanUp } from './steps/clean-up.js'
import { commitRelease } from './steps/commit.js'
import { compareRange, compareStep } from './steps/compare.js'
import { postDeploy, preDeploy, PRE_DEPLOY_STEP } from './steps/hooks.js'
import { findProductionContainer, readProduction, surveyCommand } from './steps/production.js'
import { retain } from './steps/retain.js'
import { rollBackTo } from './steps/roll-back-to.js'
import { Run } from './steps/run.js'
import type { Production } from './target.js'

interface StepRecord {
  name: string
  status: 'ok' | 'failed'
  durationMs: number
}

export interface DeployReport {
  outcome: 'deployed' | 'unchanged' | 'dry-run' | 'failed' | 'rolled-back'
  /** `rollback` for a `rollback-to` run. */
  action: 'deploy' | 'rollback'
  /** Why nothing was deployed, or what failed. */
  reason?: string
  /** The step that failed. */
  failedStep?: string
  image: string
  host: string
  steps: StepRecord[]
  productionContainer?: string
  previousImageId?: string
  imageId?: string
  previousCommit?: string
  commit?: string
  containerId?: string
  /** `abc1234 Subject (author)`, oldest first. */
  commits: string[]
  /** Where the commit list came from. */
  rangeSource?: 'github' | 'git'
  changedFiles?: string[]
  diffStat?: string
  /** When the commit going out was committed, for the lead time in the history. */
  commitTime?: string
  rolledBack: boolean
  rollbackDetail?: string
  /** Set when the release was written as a flattened image. */
  flattened?: { layersBefore: number; layersAfter: number }
  retention?: Retention
  /** Retention left to the host, after the lock: the tag it gives the release, what it keeps. */
  retentionAfter?: { keep: number; tag: string }
  history?: HistoryEntry[]
  /** The plan printed by a dry run. */
  plan?: string[]
  /** With several hosts: where the rollout left each. */
  hosts?: import('./rollout.js').HostResult[]
  /** When production is a Swarm service: what Swarm made of the update. */
  swarm?: { service: string; image?: string; state?: string; message?: string }
  /** The deploy hooks that ran (`pre-deploy-command`, `post-deploy-command`), in order. */
  hooks?: { name: string; code: number; durationMs: number; tail: string }[]
}

/** A GitHub deployment for the Environments page; every call is a courtesy that never throws. */
interface DeploymentRecord {
  start(): Promise<{ ok: boolean; warning?: string }>
  finish(
    outcome: 'success' | 'failure',
    description?: string
  ): Promise<{ ok: boolean; warning?: string }>
}

export interface DeployDeps {
  connect: () => Promise<RemoteShell>
  runner: Runner
  /** Who is deploying, written into the lock for a waiting run to show. */
  holder: LockHolder
  /** Called as the deploy passes each point the post step must know about. */
  progress?: (progress: Progress) => void
  /** The commits and files from production's commit to `ref`, from GitHub's API. */
  compare?: (base: string, head: string) => Promise<CommitRange>
  /** With `environment`: the GitHub deployment to record. */
  deployment?: DeploymentRecord
  /** Load what `compare` needs while the process would otherwise wait on the host. */
  warm?: () => void
  now?: () => number
}

/**
 * The runbook, step by step — the same numbered list as the README's. Returns the report also
 * when the deploy fails (outcome `failed` or `rolled-back`, with the reason and the step). Every
 * failure before "Replace production" leaves production exactly as it was; a failure after it
 * rolls back (when `rollback` is on), except the post-deploy command's, which never does. The
 * admin container is removed, the lock released and the session closed whatever happens.
 */
export async function deploy(settings: Settings, deps: DeployDeps): Promise<DeployReport> {
  const run = new Run(settings, deps)
  const { report, runner } = run
  let host: Host | undefined
  let lock: HeldLock | undefined
  try {
    // 1. Connect over SSH: one connection for the whole deploy.
    host = new Host(await run.step('Connect', () => deps.connect()), runner)
    const remote = host

    // 2. Take the deploy lock. Two runs must never interleave their steps; the lock comes before
    // `docker ps` so that what this run sees is not changed under it by another. The lock's holder
    // reads what runs (step 3's survey) as soon as it holds it: one round trip for both.
    if (!settings.dryRun) {
      lock = await run.step('Take the deploy lock', () => {
        const taking = takeDeployLock(
          remote.shell,
          settings,
          deps.holder,
          runner,
          '',
          surveyCommand(settings)
        )
        deps.warm?.()
        return taking
      })
      run.lock = lock
      run.progress({ phase: 'started' })
    }

    // 3. Find the production container (the runbook's `docker ps`), and where its release goes.
    const found = await run.step('Find the production container', () =>
      findProductionContainer(run, remote, lock?.then)
    )
    // 4. Read what production runs: its image and the commit checked out at repo-path.
    const image = await run.step('Read what production runs', () =>
      readProduction(run, remote, found)
    )
    const { container, target } = found
    const production: Production = {
      container,
      image,
      admin: settings.adminContainer ?? `${target.service ?? container.name}-admin`,
      target
    }

    if (settings.dryRun) return await dryRun(run, remote, production)
    if (settings.rollbackTo) return await rollBackTo(run, remote, production)

    // 5. Compare: the commits and files going out; `paths` may rule the change out. Here when
    // production's commit is known (with `paths`), else once step 7 has read it.
    const compare = async (): Promise<DeployReport | undefined> => {
      const skip = await run.step(compareStep(run), () => compareRange(run))
      if (skip && !settings.force) return run.unchanged(skip, container)
      if (skip) runner.info(`${skip} Deploying anyway: \`force\` is on.`)
      return undefined
    }
    const compared = report.previousCommit !== undefined
    if (compared) {
      const unchanged = await compare()
      if (unchanged) return unchanged
    }
    await run.startDeployment()

    // 6. Create the admin container: a copy of production in which the release is made.
    const admin = await run.step('Create the admin container', () =>
      createAdminContainer(run, remote, production, found.containers)
    )
    // 7. Check the checkout for local changes (the runbook's `git diff`), and fetch.
    const relation = await run.step('Check the checkout for local changes', () =>
      checkCheckout(run, remote, admin)
    )
    if (!compared) {
      const unchanged = await compare()
      if (unchanged) return unchanged
    }
    // 8. Update to the exact commit from origin, fast-forward only.
    const update = await run.step(updateStep(run), () =>
      updateCheckout(run, remote, admin, relation)
    )
    if ('skip' in update) return run.unchanged(update.skip, container)
    const { commit } = update
    report.commit = commit
    // 9. Build, streaming the output.
    await run.step(buildStep(run), () => build(run, remote, admin))
    // 10. Commit the release image.
    const release = await run.step('Commit the release image', () =>
      commitRelease(run, remote, production, commit)
    )
    // 11. Run the pre-deploy command (migrations): the release's code, production's environment,
    // before anything is swapped.
    if (settings.preDeployCommand) {
      await run.step(PRE_DEPLOY_STEP, () => preDeploy(run, remote, admin))
    }
    // 12. Canary: a release that cannot start never replaces production.
    if (settings.canarySeconds > 0 || settings.canaryCommand) {
      await run.step('Canary', () => canary(remote, runner, settings, container, image, release))
    }
    // 13. Replace production: the supervisor respawns it from the release (or Swarm rolls it out).
    await run.step(target.replaceStep, () =>
      target.replace(run, remote, production, release, target.releaseName(commit) ?? '')
    )
    // 14. Retain releases: the release tagged with its commit, and the last few before it.
    await retain(run, remote, production, release, commit)
    // 15. Run the post-deploy command on the host, the release confirmed: a warning when it fails
    // (a failed job with `post-deploy-must-pass`), never a rollback.
    if (settings.postDeployCommand) await postDeploy(run, remote)
    report.outcome = 'deployed'
    return report
  } catch (error) {
    // The report is the result either way: outputs and summary are written for a failure too.
    report.reason = message(error)
    report.failedStep = error instanceof DeployError ? error.step : undefined
    if (report.outcome !== 'rolled-back') report.outcome = 'failed'
    return report
  } finally {
    // 16. Clean up, always: history, admin container, lock, session.
    if (host) await cleanUp(run, host, lock)
  }
}
