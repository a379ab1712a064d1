import {
  createClient,
  describeApiFailure,
  splitRepository,
  type ApiFailure,
  type GitHubClient
} from './octokit.js'

/*
 * A GitHub deployment records the release on the repository's Environments page: created when the
 * host is about to change, `in_progress` while it does, `success` or `failure` at the end, each
 * status linking to the run's log. The API is a courtesy: every call is bounded in time, and a
 * failure comes back as a warning for the caller, never as an exception, so the deploy itself
 * never fails because of GitHub.
 */

export interface DeploymentOptions {
  /** Without one no deployment is recorded (a warning says why). */
  token?: string
  /** GITHUB_API_URL; default https://api.github.com. */
  apiUrl?: string
  /** `owner/repo` */
  repository: string
  /** The environment name, e.g. `production`. */
  environment: string
  /** The exact commit deployed (a deployment's `ref` may be a branch; ours is always the SHA). */
  sha: string
  /** Shown on the Environments page when the release succeeds (`environment-url`). */
  environmentUrl?: string
  /** The run's log, linked from every status. */
  logUrl?: string
  /** Up to 140 characters; default "Deploy <sha> to <environment>". */
  description?: string
  /** Extra data stored with the deployment, e.g. the image. */
  payload?: Record<string, unknown>
  /** Per request; default 10 s. */
  timeoutMs?: number
}

/** How the deploy ended: `success` when production runs the commit, else `failure`. */
type DeploymentOutcome = 'success' | 'failure'

type ApiResult =
  | { ok: true; skipped?: boolean }
  | {
      ok: false
      /** A complete sentence for `core.warning`: what failed, why, and what to do. */
      warning: string
    }

/** The permission a token needs for deployments, as a workflow writes it. */
const DEPLOYMENTS_PERMISSION = 'permissions: deployments: write'

/**
 * `production_environment`: GitHub's own default is true only for the name `production`. We also
 * take `prod` and the names that start with either followed by a separator (`production-api`,
 * `prod/eu`), so one production environment per image still counts as production; `staging`,
 * `preview`, `productivity` do not.
 */
export function isProductionEnvironment(environment: string): boolean {
  return /^prod(uction)?([-_./ ].*)?$/i.test(environment.trim())
}

/**
 * One deployment of one commit to one environment. `start()` creates it and posts `in_progress`;
 * `finish(outcome)` posts `success` or `failure`. Neither throws.
 */
export class GitHubDeployment {
  /** The deployment's ID once `start()` created it. */
  id?: number
  private client?: GitHubClient

  constructor(private readonly options: DeploymentOptions) {}

  async start(): Promise<ApiResult> {
    const { options } = this
    const where = `environment ${options.environment}`
    if (!options.token) {
      return {
        ok: false,
        warning: `No GitHub deployment is recorded for ${where}: there is no \`github-token\`. The deploy goes on.`
      }
    }
    const repository = splitRepository(options.repository)
    if (!repository) {
      return {
        ok: false,
        warning: `No GitHub deployment is recorded for ${where}: the repository '${options.repository}' is not of the form owner/repo.`
      }
    }
    this.client = createClient({
      token: options.token,
      apiUrl: options.apiUrl,
      timeoutMs: options.timeoutMs
    })
    try {
      const created = await this.client.rest.repos.createDeployment({
        ...repository,
        ref: options.sha,
        environment: options.environment,
        description: this.describe(),
        task: 'deploy',
        // Without it, pending or failing checks on the commit make GitHub refuse with 409.
        required_contexts: [],
        // Without it, GitHub tries to merge the default branch into the ref first.
        auto_merge: false,
        production_environment: isProductionEnvironment(options.environment),
        transient_environment: false,
        ...(options.payload ? { payload: options.payload } : {})
      })
      if (created.status !== 201 || !('id' in created.data)) {
        const message = (created.data as { message?: string }).message ?? ''
        return {
          ok: false,
          warning: `GitHub did not create a deployment for ${where} (${created.status} ${message}). The deploy goes on without one.`
        }
      }
      this.id = created.data.id
    } catch (error) {
      return {
        ok: false,
        warning: this.warning('create a deployment', describeApiFailure(error, options.timeoutMs))
      }
    }
    return this.post('in_progress')
  }

  /** Post the final status; does nothing when `start()` created no deployment. */
  async finish(outcome: DeploymentOutcome, description?: string): Promise<ApiResult> {
    if (this.id === undefined) return { ok: true, skipped: true }
    return this.post(outcome, description)
  }

  private async post(
    state: 'in_progress' | DeploymentOutcome,
    description?: string
  ): Promise<ApiResult> {
    const { options } = this
    const repository = splitRepository(options.repository)!
    try {
      await this.client!.rest.repos.createDeploymentStatus({
        ...repository,
        deployment_id: this.id!,
        state,
        description: clip(description ?? this.describe(state)),
        ...(options.logUrl ? { log_url: options.logUrl } : {}),
        ...(options.environmentUrl && state !== 'failure'
          ? { environment_url: options.environmentUrl }
          : {}),
        // Only a success replaces what production runs: after a failure (or a rollback) the
        // previous deployment is still the live one and must stay active.
        auto_inactive: state === 'success'
      })
      return { ok: true }
    } catch (error) {
      return {
        ok: false,
        warning: this.warning(
          `post the ${state} status of deployment ${this.id}`,
          describeApiFailure(error, options.timeoutMs)
        )
      }
    }
  }

  private describe(state?: 'in_progress' | DeploymentOutcome): string {
    const { options } = this
    const what = `${options.sha.slice(0, 12)} to ${options.environment}`
    if (state === 'success') return `Deployed ${what}`
    if (state === 'failure') return `Deploy of ${what} failed`
    return clip(options.description ?? `Deploy ${what}`)
  }

  private warning(action: string, failure: ApiFailure): string {
    const { environment } = this.options
    const head = `Could not ${action} for environment ${environment} on GitHub (${failure.detail})`
    const tail = 'The deploy itself goes on; only its record on GitHub is missing.'
    if (failure.status === 404) {
      return `${head}: the token does not see ${this.options.repository}. A token without access to the repository, or without \`${DEPLOYMENTS_PERMISSION}\`, is answered 404. ${tail}`
    }
    if (failure.status === 403) {
      const accepted = failure.acceptedPermissions
        ? ` GitHub says the request needs ${failure.acceptedPermissions}.`
        : ''
      return `${head}: the token lacks the permission to write deployments.${accepted} Add \`${DEPLOYMENTS_PERMISSION}\` to the job (or the workflow). ${tail}`
    }
    if (failure.status === 422) {
      return `${head}: is commit ${this.options.sha} pushed to ${this.options.repository}? ${tail}`
    }
    return `${head}. ${tail}`
  }
}

function clip(text: string): string {
  return text.length <= 140 ? text : text.slice(0, 139) + '…'
}
