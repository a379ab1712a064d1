import { getOctokit } from '@actions/github'

export type GitHubClient = ReturnType<typeof getOctokit>

export const DEFAULT_API_URL = 'https://api.github.com'
/** A deploy must never wait long on GitHub: each API request gets this long, then gives up. */
export const DEFAULT_TIMEOUT_MS = 10_000

interface ClientOptions {
  token: string
  /** GITHUB_API_URL; GitHub Enterprise Server has its own. */
  apiUrl?: string
  timeoutMs?: number
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} }

/**
 * An Octokit whose every request is bounded by `timeoutMs`. No retries: a failed call is
 * reported and the deploy goes on, so retrying would only delay the deploy.
 */
export function createClient(options: ClientOptions): GitHubClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  // `request` is not passed to getOctokit: it would replace @actions/github's proxy-aware fetch.
  const octokit = getOctokit(options.token, {
    baseUrl: (options.apiUrl || DEFAULT_API_URL).replace(/\/+$/, ''),
    log: quiet
  })
  // A `before` hook changes the options in place: a `wrap` hook's own options would be ignored
  // by the hooks inside it (they are bound to the original options).
  octokit.hook.before('request', options => {
    options.request = { ...options.request, signal: AbortSignal.timeout(timeoutMs) }
  })
  return octokit
}

/** `owner/repo` → its parts, or undefined when it is not of that form. */
export function splitRepository(repository: string): { owner: string; repo: string } | undefined {
  const match = /^([\w.-]+)\/([\w.-]+)$/.exec(repository.trim())
  return match ? { owner: match[1], repo: match[2] } : undefined
}

export interface ApiFailure {
  /** HTTP status; 0 when no answer came (network error, timeout). */
  status: number
  /** One line for the log: what GitHub said, or why it said nothing. */
  detail: string
  /** The permissions GitHub says the request needs (x-accepted-github-permissions). */
  acceptedPermissions?: string
}

/** What went wrong with an API call, from an Octokit RequestError or any other error. */
export function describeApiFailure(error: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): ApiFailure {
  const e = error as {
    name?: string
    status?: number
    message?: string
    cause?: unknown
    response?: { headers?: Record<string, string | undefined>; data?: unknown }
  }
  const cause = e?.cause as { name?: string; code?: string; message?: string } | undefined
  const timedOut =
    e?.name === 'TimeoutError' ||
    cause?.name === 'TimeoutError' ||
    /aborted due to timeout/i.test(e?.message ?? '')
  if (timedOut) return { status: 0, detail: `no answer within ${timeoutMs / 1000} s` }
  if (!e?.response) {
    // No response at all: connection refused, DNS, TLS. Octokit wraps these as status 500, and
    // fetch puts the system error (ECONNREFUSED, ENOTFOUND) a level further down.
    const root = (cause as { cause?: { code?: string } } | undefined)?.cause
    const reason = root?.code ?? cause?.code ?? cause?.message ?? e?.message ?? String(error)
    return { status: 0, detail: `unreachable (${reason})` }
  }
  const data = e.response.data as { message?: unknown } | undefined
  const said = typeof data?.message === 'string' ? data.message : (e.message ?? '')
  return {
    status: e.status ?? 0,
    detail: `${e.status}${said ? ` ${said}` : ''}`,
    acceptedPermissions: e.response.headers?.['x-accepted-github-permissions'] || undefined
  }
}
