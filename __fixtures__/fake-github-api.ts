import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/*
 * A fake of the few GitHub REST endpoints the action calls, served over real HTTP on 127.0.0.1,
 * so the tests exercise Octokit, its pagination, timeouts and error handling as in production:
 *   GET  /repos/{owner}/{repo}/compare/{base}...{head}      (per_page / page, Link: rel="next")
 *   POST /repos/{owner}/{repo}/deployments
 *   POST /repos/{owner}/{repo}/deployments/{id}/statuses
 * Every request is recorded; `fail` makes a route answer an error status, slowly, or never.
 */

export interface RecordedRequest {
  method: string
  /** Path without the query string. */
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  /** The parsed JSON body, if any. */
  body?: Record<string, unknown>
}

export interface FakeCommit {
  sha: string
  message: string
  author: string
}

export interface FakeFile {
  filename: string
  status?: 'added' | 'removed' | 'modified' | 'renamed'
  previous_filename?: string
}

export interface FakeComparison {
  status?: 'ahead' | 'behind' | 'diverged' | 'identical'
  commits: FakeCommit[]
  files: (string | FakeFile)[]
}

export interface Failure {
  status?: number
  body?: unknown
  headers?: Record<string, string>
  /** Answer only after this long. */
  delayMs?: number
  /** Never answer (until the server closes). */
  hang?: boolean
  /** How many requests fail; default every one. */
  times?: number
}

/** GitHub lists at most this many files for one comparison, on the first page. */
const FILE_LIMIT = 300

export class FakeGitHubApi {
  readonly requests: RecordedRequest[] = []
  /** What GitHub holds: comparisons by `base...head`. */
  readonly comparisons = new Map<string, FakeComparison>()
  readonly deployments: Record<string, unknown>[] = []
  readonly statuses: Record<string, unknown>[] = []
  private failures: { method: string; path: RegExp; failure: Failure }[] = []
  private server?: Server
  private nextId = 1000
  private timers = new Set<NodeJS.Timeout>()

  /** The base URL to pass as GITHUB_API_URL, once started. */
  url = ''

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop(): Promise<void> {
    if (!this.server) return
    // Hanging and delayed requests keep sockets and timers; end them so the test run ends.
    for (const timer of this.timers) clearTimeout(timer)
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server!.close(() => resolve()))
    this.server = undefined
  }

  compare(base: string, head: string, comparison: FakeComparison): this {
    this.comparisons.set(`${base}...${head}`, comparison)
    return this
  }

  /** Make requests of `method` whose path (with its query string) matches `path` fail as told. */
  fail(method: string, path: RegExp, failure: Failure): this {
    this.failures.push({ method, path, failure: { ...failure } })
    return this
  }

  /** The requests of `method` whose path matches `path`. */
  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter(r => r.method === method && path.test(r.path))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url)
    const text = await readBody(req)
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined
    }
    this.requests.push(request)

    const target = `${request.path}${url.search}`
    const failing = this.failures.find(f => f.method === request.method && f.path.test(target))
    if (failing) {
      const failure = failing.failure
      if (failure.times !== undefined && --failure.times <= 0)
        this.failures = this.failures.filter(f => f !== failing)
      if (failure.hang) return
      if (failure.delayMs) {
        await new Promise(resolve => this.timers.add(setTimeout(resolve, failure.delayMs)))
      }
      if (failure.status) {
        send(
          res,
          failure.status,
          failure.body ?? { message: 'Server Error' },
          failure.headers ?? {}
        )
        return
      }
    }
    if (res.destroyed) return
    this.route(request, res)
  }

  private route(request: RecordedRequest, res: ServerResponse): void {
    const { method, path } = request
    let m: RegExpExecArray | null
    if (method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/compare\/(.+)$/.exec(path))) {
      return this.answerCompare(request, m[1], m[2], m[3], res)
    }
    if (method === 'POST' && (m = /^\/repos\/([^/]+)\/([^/]+)\/deployments$/.exec(path))) {
      const body = request.body ?? {}
      if (typeof body.ref !== 'string' || !body.ref) {
        return send(res, 422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.' })
      }
      const deployment = {
        id: this.nextId++,
        url: `${this.url}/repos/${m[1]}/${m[2]}/deployments/${this.nextId - 1}`,
        sha: body.ref,
        ref: body.ref,
        task: body.task ?? 'deploy',
        environment: body.environment ?? 'production',
        description: body.description ?? null,
        payload: body.payload ?? {},
        production_environment: body.production_environment ?? false,
        transient_environment: body.transient_environment ?? false,
        created_at: new Date().toISOString()
      }
      this.deployments.push(deployment)
      return send(res, 201, deployment)
    }
    if (
      method === 'POST' &&
      (m = /^\/repos\/([^/]+)\/([^/]+)\/deployments\/(\d+)\/statuses$/.exec(path))
    ) {
      const id = Number(m[3])
      if (!this.deployments.some(d => d.id === id)) return send(res, 404, { message: 'Not Found' })
      const status = { id: this.nextId++, deployment_id: id, ...request.body }
      this.statuses.push(status)
      return send(res, 201, status)
    }
    send(res, 404, { message: 'Not Found' })
  }

  private answerCompare(
    request: RecordedRequest,
    owner: string,
    repo: string,
    basehead: string,
    res: ServerResponse
  ): void {
    const comparison = this.comparisons.get(basehead)
    if (!comparison) return send(res, 404, { message: 'Not Found' })
    const total = comparison.commits.length
    // As GitHub: without per_page/page, the first 250 commits; with them, one page of commits,
    // and the files (at most 300) on the first page only.
    const paged = request.query.has('per_page') || request.query.has('page')
    const perPage = Math.min(Number(request.query.get('per_page') ?? 250), 250)
    const page = Math.max(Number(request.query.get('page') ?? 1), 1)
    const commits = paged
      ? comparison.commits.slice((page - 1) * perPage, page * perPage)
      : comparison.commits.slice(0, 250)
    const files = page === 1 ? comparison.files.slice(0, FILE_LIMIT) : []
    const headers: Record<string, string> = {}
    if (paged && page * perPage < total) {
      const next = new URL(`${this.url}${request.path}`)
      next.searchParams.set('per_page', String(perPage))
      next.searchParams.set('page', String(page + 1))
      headers.link = `<${next}>; rel="next"`
    }
    send(
      res,
      200,
      {
        url: `${this.url}/repos/${owner}/${repo}/compare/${basehead}`,
        status: comparison.status ?? (total > 0 ? 'ahead' : 'identical'),
        ahead_by: total,
        behind_by: 0,
        total_commits: total,
        commits: commits.map(c => ({
          sha: c.sha,
          commit: { message: c.message, author: { name: c.author, email: 'dev@example.com' } },
          author: { login: c.author.toLowerCase().replace(/\s+/g, '-') }
        })),
        files: files.map(f =>
          typeof f === 'string'
            ? { filename: f, status: 'modified' }
            : { status: f.previous_filename ? 'renamed' : 'modified', ...f }
        )
      },
      headers
    )
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  if (res.destroyed) return
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
  res.end(JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** GitHub's answer to a GITHUB_TOKEN without the permission a request needs. */
export function forbidden(permission: string): Failure {
  return {
    status: 403,
    body: {
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest'
    },
    headers: { 'x-accepted-github-permissions': permission }
  }
}
