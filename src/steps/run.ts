import type { DeployDeps, DeployReport } from '../deploy.js'
import type { ContainerInfo } from '../docker.js'
import { formatDuration, message } from '../format.js'
import { DeployError } from '../host.js'
import { addressLabel, type Settings } from '../inputs.js'
import type { Runner } from '../runner.js'
import type { HeldLock } from '../lock.js'
import type { Progress } from '../state.js'

/**
 * One run of the procedure: its settings and dependencies, the report it fills in, and how each
 * step is run — a log group, timed and recorded, whose failure names the step.
 */
export class Run {
  readonly runner: Runner
  readonly report: DeployReport
  readonly now: () => number
  readonly started: number
  /** Whether the GitHub deployment was started, so it must be finished. */
  deploymentStarted = false
  /** The admin container this run made (or may have made), for the clean-up to remove. */
  adminContainer?: string
  /** The deploy lock, once taken: work that must not delay the job runs after it (`after`). */
  lock?: HeldLock
  /** The last lines of the host's deploy history, read with the survey. */
  history?: string

  constructor(
    readonly settings: Settings,
    readonly deps: DeployDeps
  ) {
    this.runner = deps.runner
    this.now = deps.now ?? (() => performance.now())
    this.started = this.now()
    this.report = {
      outcome: 'failed',
      action: settings.rollbackTo ? 'rollback' : 'deploy',
      image: settings.image.name,
      host: settings.hosts.length > 1 ? addressLabel(settings.hosts[0]) : settings.host,
      steps: [],
      commits: [],
      rolledBack: false
    }
  }

  /** Tell the post step how far the run got. */
  progress(progress: Progress): void {
    this.deps.progress?.(progress)
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const begun = this.now()
    return this.runner.group(name, async () => {
      try {
        const result = await fn()
        const durationMs = this.now() - begun
        this.report.steps.push({ name, status: 'ok', durationMs })
        this.runner.info(`✓ ${name} (${formatDuration(durationMs)})`)
        return result
      } catch (error) {
        const durationMs = this.now() - begun
        this.report.steps.push({ name, status: 'failed', durationMs })
        this.runner.info(`✗ ${name} (${formatDuration(durationMs)})`)
        if (!(error instanceof DeployError))
          throw Object.assign(new DeployError(message(error)), { step: name })
        error.step ??= name
        throw error
      }
    })
  }

  /** With `environment`: the GitHub deployment goes in progress once something will change. */
  async startDeployment(): Promise<void> {
    if (!this.deps.deployment) return
    this.deploymentStarted = true
    const result = await this.deps.deployment.start()
    if (result.warning) this.runner.warning(result.warning, 'GitHub deployment')
  }

  /** Nothing to release: production runs the commit already, or the path filter skips it. */
  unchanged(reason: string, production: ContainerInfo): DeployReport {
    const { report } = this
    report.outcome = 'unchanged'
    report.reason = reason
    report.commit = report.previousCommit
    report.imageId = report.previousImageId
    report.containerId = production.id
    this.runner.info(reason)
    return report
  }
}
