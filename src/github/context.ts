import { readFileSync } from 'node:fs'

/** What the workflow run tells us about itself, read from the runner's environment. */
export interface RunContext {
  eventName: string
  /** The commit the workflow runs for (GITHUB_SHA). */
  sha: string
  /** The branch pushed or dispatched on, when the run is for a branch. */
  branch?: string
  /** The push event's `before` commit, a hint for the deployed range. */
  before?: string
  repository?: string
  runUrl?: string
  actor?: string
}

type Env = Record<string, string | undefined>

export function readRunContext(env: Env = process.env): RunContext {
  const event = readEvent(env.GITHUB_EVENT_PATH)
  const ref = env.GITHUB_REF ?? ''
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
  const repository = env.GITHUB_REPOSITORY
  const after = typeof event.after === 'string' ? event.after : undefined
  const before =
    typeof event.before === 'string' && !/^0+$/.test(event.before) ? event.before : undefined
  return {
    eventName: env.GITHUB_EVENT_NAME ?? '',
    sha: after ?? env.GITHUB_SHA ?? '',
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined,
    before,
    repository,
    runUrl:
      repository && env.GITHUB_RUN_ID
        ? `${server}/${repository}/actions/runs/${env.GITHUB_RUN_ID}`
        : undefined,
    actor: env.GITHUB_ACTOR
  }
}

function readEvent(path: string | undefined): Record<string, unknown> {
  if (!path) return {}
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'))
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {}
  } catch {
    // A missing or unreadable event file only costs us defaults, which inputs can supply.
    return {}
  }
}
