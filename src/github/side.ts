import type { DeployDeps } from '../deploy.js'
import type { Settings } from '../inputs.js'
import type { RunContext } from './context.js'

/**
 * What the deploy needs from GitHub's API: the commit range and, with `environment`, a deployment
 * record. Octokit is loaded only when a token is there to use it: most of the bundle's start-up
 * time would otherwise go to a client that a run without a token never calls.
 */
export function githubSide(
  settings: Settings,
  context: RunContext
): Pick<DeployDeps, 'compare' | 'deployment' | 'warm'> {
  const api = {
    token: settings.githubToken,
    apiUrl: process.env.GITHUB_API_URL,
    repository: context.repository ?? ''
  }
  const compare: DeployDeps['compare'] = settings.githubToken
    ? async (base, head) => {
        const { compareCommits, rangeBase } = await import('./compare.js')
        return compareCommits({ ...api, base: rangeBase(base, context.before)?.sha ?? base, head })
      }
    : undefined
  // Its code, loaded while the host takes the lock rather than when the Compare step needs it.
  const warm = settings.githubToken
    ? () => void import('./compare.js').catch(() => undefined)
    : undefined
  if (!settings.environment) return { compare, warm }
  const options = {
    ...api,
    environment: settings.environment,
    sha: settings.ref,
    environmentUrl: settings.environmentUrl,
    logUrl: context.runUrl,
    description: `${settings.rollbackTo ? 'Roll back' : 'Deploy'} ${settings.image.name} on ${settings.hosts.length > 1 ? `${settings.hosts.length} hosts` : settings.host}`
  }
  let started: Promise<import('./deployments.js').GitHubDeployment> | undefined
  return {
    compare,
    warm,
    deployment: {
      start: async () => {
        started = import('./deployments.js').then(
          ({ GitHubDeployment }) => new GitHubDeployment(options)
        )
        return (await started).start()
      },
      finish: async (outcome, description) =>
        started ? (await started).finish(outcome, description) : { ok: true }
    }
  }
}

/**
 * With several hosts the deployment is one record for the whole rollout: the deploy on the first
 * host starts it, and its result is written only once every host is done (`settle`).
 */
export function deferFinish(record: NonNullable<DeployDeps['deployment']>) {
  let finished: Parameters<typeof record.finish> | undefined
  return {
    record: {
      start: () => record.start(),
      finish: async (...args: Parameters<typeof record.finish>) => {
        finished = args
        return { ok: true }
      }
    },
    /** Write the rollout's result, if the deploy had started a deployment. */
    settle: (outcome: 'success' | 'failure', description?: string) =>
      finished
        ? record.finish(outcome, description)
        : Promise.resolve({ ok: true, warning: undefined })
  }
}
