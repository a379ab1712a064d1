import {
  createClient,
  type GitHubClient,
  DEFAULT_API_URL,
  DEFAULT_TIMEOUT_MS,
  describeApiFailure,
  splitRepository
} from './octokit.js'

interface RangeCommit {
  sha: string
  /** The first line of the message. */
  subject: string
  /** The commit's author as git records it (name), else the GitHub login. */
  author: string
}

export type CommitRange =
  | {
      source: 'github'
      /** GitHub's word for how head relates to base: ahead, behind, diverged, identical. */
      status: string
      /** Oldest first, as `git log --reverse`. */
      commits: RangeCommit[]
      /** Changed paths; a renamed file counts under its old and its new path. */
      files: string[]
      /**
       * Some commits or files are missing: the range is larger than the API returns (300 files
       * per comparison) or than we page through. A path filter must not skip on a partial list.
       */
      truncated: boolean
    }
  | { source: 'unavailable'; reason: string }

export interface CompareOptions {
  /** Without one the API is not asked (the range comes from git on the host). */
  token?: string
  /** GITHUB_API_URL; default https://api.github.com. */
  apiUrl?: string
  /** `owner/repo` */
  repository: string
  base: string
  head: string
  /** Per request; default 10 s. */
  timeoutMs?: number
  /** Pages of 100 commits to read at most; default 10. */
  maxPages?: number
}

type Comparison = Awaited<
  ReturnType<GitHubClient['rest']['repos']['compareCommitsWithBasehead']>
>['data']

/** GitHub lists at most this many files for one comparison. */
const FILE_LIMIT = 300
const PER_PAGE = 100

/**
 * The commits and changed files from `base` to `head`, from GitHub's compare API. Never throws:
 * without a token, or when the API fails or does not answer in time, the result says why, and the
 * deploy takes the range from git on the host instead.
 */
export async function compareCommits(options: CompareOptions): Promise<CommitRange> {
  const unavailable = (reason: string): CommitRange => ({ source: 'unavailable', reason })
  if (!options.token) return unavailable('no github-token')
  const repository = splitRepository(options.repository)
  if (!repository)
    return unavailable(`repository '${options.repository}' is not of the form owner/repo`)
  if (!options.base || !options.head) return unavailable('no base or head commit')
  if (options.base === options.head)
    return { source: 'github', status: 'identical', commits: [], files: [], truncated: false }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const maxPages = options.maxPages ?? 10
  try {
    const octokit = createClient({ token: options.token, apiUrl: options.apiUrl, timeoutMs })
    const commits: RangeCommit[] = []
    const files = new Set<string>()
    let status = ''
    let totalCommits = 0
    let pages = 0
    let complete = true
    // GitHub pages the commits of a comparison (per_page/page) and lists the files once.
    for await (const page of octokit.paginate.iterator(
      octokit.rest.repos.compareCommitsWithBasehead,
      { ...repository, basehead: `${options.base}...${options.head}`, per_page: PER_PAGE }
    )) {
      // The compare answer is one object per page (paginate's types assume a list under a key).
      const data = page.data as unknown as Comparison
      if (pages === 0) {
        status = data.status
        totalCommits = data.total_commits
      }
      for (const c of data.commits ?? []) {
        commits.push({
          sha: c.sha,
          subject: (c.commit.message ?? '').split('\n')[0],
          author: c.commit.author?.name ?? c.author?.login ?? ''
        })
      }
      for (const f of data.files ?? []) {
        if (f.previous_filename) files.add(f.previous_filename)
        files.add(f.filename)
      }
      pages += 1
      if (pages >= maxPages && commits.length < totalCommits) {
        complete = false
        break
      }
    }
    return {
      source: 'github',
      status,
      commits,
      files: [...files],
      truncated: !complete || commits.length < totalCommits || files.size >= FILE_LIMIT
    }
  } catch (error) {
    const failure = describeApiFailure(error, timeoutMs)
    const api = options.apiUrl || DEFAULT_API_URL
    const hint =
      failure.status === 404
        ? `: ${abbreviateSha(options.base)} or ${abbreviateSha(options.head)} is not in ${options.repository}, or the token cannot read it`
        : ''
    return unavailable(
      `GitHub API (${api}) compare ${abbreviateSha(options.base)}...${abbreviateSha(options.head)}: ${failure.detail}${hint}`
    )
  }
}

interface RangeBase {
  sha: string
  /** `production`: read on the host, the truth; `push`: the event's `before`, a hint. */
  from: 'production' | 'push'
}

/**
 * Where the deployed range starts: the commit production runs when it could be read (the push
 * event's `before` is wrong after a failed or skipped deploy, or a deploy of an older ref), else
 * the push's `before`. A branch's first push has an all-zero `before`, which is no commit.
 */
export function rangeBase(production?: string, before?: string): RangeBase | undefined {
  const commit = (sha?: string) =>
    sha && /^[0-9a-f]{7,64}$/i.test(sha) && !/^0+$/.test(sha) ? sha : undefined
  const fromProduction = commit(production?.trim())
  if (fromProduction) return { sha: fromProduction, from: 'production' }
  const fromPush = commit(before?.trim())
  return fromPush ? { sha: fromPush, from: 'push' } : undefined
}

/** A full commit SHA as its first 12 hex digits; anything else (a branch name) as given. */
function abbreviateSha(sha: string): string {
  return /^[0-9a-f]{40,64}$/i.test(sha) ? sha.slice(0, 12) : sha
}
