import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { FakeGitHubApi, forbidden, type FakeCommit } from '../__fixtures__/fake-github-api.js'
import { compareCommits, rangeBase, type CompareOptions } from '../src/github/compare.js'

const PRODUCTION = 'a'.repeat(40)
const REF = 'b'.repeat(40)
const BEFORE = 'c'.repeat(40)

const commits = (n: number): FakeCommit[] =>
  Array.from({ length: n }, (_, i) => ({
    sha: (i + 1).toString(16).padStart(40, '0'),
    message: `Change ${i + 1}\n\nThe body of the message.`,
    author: 'Ada Lovelace'
  }))

describe('the commit range from the GitHub API', () => {
  let api: FakeGitHubApi
  beforeEach(async () => {
    api = await new FakeGitHubApi().start()
  })
  afterEach(async () => {
    await api.stop()
  })

  const options = (over: Partial<CompareOptions> = {}): CompareOptions => ({
    token: 'ghs_token',
    apiUrl: api.url,
    repository: 'texasca/texasca-api',
    base: PRODUCTION,
    head: REF,
    ...over
  })

  it('lists the commits and changed files from production to ref', async () => {
    api.compare(PRODUCTION, REF, {
      commits: commits(2),
      files: [
        'src/app.js',
        { filename: 'lib/new.js', previous_filename: 'lib/old.js', status: 'renamed' }
      ]
    })
    const range = await compareCommits(options())
    expect(range).toEqual({
      source: 'github',
      status: 'ahead',
      commits: [
        { sha: commits(2)[0].sha, subject: 'Change 1', author: 'Ada Lovelace' },
        { sha: commits(2)[1].sha, subject: 'Change 2', author: 'Ada Lovelace' }
      ],
      files: ['src/app.js', 'lib/old.js', 'lib/new.js'],
      truncated: false
    })
    const [request] = api.requests
    expect(request.path).toBe(`/repos/texasca/texasca-api/compare/${PRODUCTION}...${REF}`)
    expect(request.headers.authorization).toBe('token ghs_token')
  })

  it('pages through a range of more commits than one page holds', async () => {
    api.compare(PRODUCTION, REF, { commits: commits(230), files: ['a.js', 'b.js'] })
    const range = await compareCommits(options())
    expect(range.source).toBe('github')
    if (range.source !== 'github') return
    expect(range.commits).toHaveLength(230)
    expect(range.commits.at(-1)?.subject).toBe('Change 230')
    expect(range.files).toEqual(['a.js', 'b.js'])
    expect(range.truncated).toBe(false)
    expect(api.requests.map(r => r.query.get('page') ?? '1')).toEqual(['1', '2', '3'])
  })

  it('says the range is truncated when it has more commits than it reads', async () => {
    api.compare(PRODUCTION, REF, { commits: commits(250), files: ['a.js'] })
    const range = await compareCommits(options({ maxPages: 2 }))
    expect(range).toMatchObject({ source: 'github', truncated: true })
    expect(range.source === 'github' && range.commits).toHaveLength(200)
    expect(api.requests).toHaveLength(2)
  })

  it("says the range is truncated at GitHub's limit of 300 files", async () => {
    const files = Array.from({ length: 400 }, (_, i) => `file-${i}.js`)
    api.compare(PRODUCTION, REF, { commits: commits(1), files })
    const range = await compareCommits(options())
    expect(range).toMatchObject({ source: 'github', truncated: true })
    expect(range.source === 'github' && range.files).toHaveLength(300)
  })

  it('asks nothing when production already runs ref', async () => {
    const range = await compareCommits(options({ base: REF }))
    expect(range).toEqual({
      source: 'github',
      status: 'identical',
      commits: [],
      files: [],
      truncated: false
    })
    expect(api.requests).toHaveLength(0)
  })

  it('is unavailable without a token, and asks nothing', async () => {
    const range = await compareCommits(options({ token: '' }))
    expect(range).toEqual({ source: 'unavailable', reason: 'no github-token' })
    expect(api.requests).toHaveLength(0)
  })

  it('falls back when the API is unreachable', async () => {
    const url = api.url
    await api.stop()
    const range = await compareCommits(options({ apiUrl: url }))
    expect(range.source).toBe('unavailable')
    expect(range.source === 'unavailable' && range.reason).toMatch(/unreachable \(ECONNREFUSED\)/)
  })

  it('falls back when the API does not answer in time', async () => {
    api.fail('GET', /compare/, { hang: true })
    const started = Date.now()
    const range = await compareCommits(options({ timeoutMs: 300 }))
    expect(Date.now() - started).toBeLessThan(5000)
    expect(range).toEqual({
      source: 'unavailable',
      reason: expect.stringMatching(/no answer within 0.3 s/)
    })
  })

  it('falls back when the API answers with a server error', async () => {
    api.fail('GET', /compare/, { status: 502, body: { message: 'Bad Gateway' } })
    const range = await compareCommits(options())
    expect(range).toEqual({
      source: 'unavailable',
      reason: expect.stringMatching(/502 Bad Gateway/)
    })
  })

  it('falls back when a later page fails', async () => {
    api.compare(PRODUCTION, REF, { commits: commits(150), files: ['a.js'] })
    api.fail('GET', /compare\/.*[?&]page=2/, { status: 500 })
    // Half a range is not passed off as the whole one.
    const range = await compareCommits(options())
    expect(range.source).toBe('unavailable')
    expect(api.requests).toHaveLength(2)
  })

  it('falls back when the token may not read the repository', async () => {
    api.fail('GET', /compare/, forbidden('contents=read'))
    const range = await compareCommits(options())
    expect(range.source === 'unavailable' && range.reason).toMatch(
      /403 Resource not accessible by integration/
    )
  })

  it('says which commit GitHub does not know', async () => {
    const range = await compareCommits(options())
    expect(range.source === 'unavailable' && range.reason).toMatch(
      /404 Not Found: aaaaaaaaaaaa.* or bbbbbbbbbbbb.* is not in texasca\/texasca-api/
    )
  })

  it('is unavailable for a repository not of the form owner/repo', async () => {
    const range = await compareCommits(options({ repository: 'texasca' }))
    expect(range).toEqual({
      source: 'unavailable',
      reason: "repository 'texasca' is not of the form owner/repo"
    })
  })
})

describe('the start of the range', () => {
  it("starts at production's commit when it was read on the host", () => {
    expect(rangeBase(PRODUCTION, BEFORE)).toEqual({ sha: PRODUCTION, from: 'production' })
  })

  it("starts at the push's before when production's commit is unknown", () => {
    expect(rangeBase(undefined, BEFORE)).toEqual({ sha: BEFORE, from: 'push' })
    expect(rangeBase('', BEFORE)).toEqual({ sha: BEFORE, from: 'push' })
  })

  it("ignores a new branch's all-zero before", () => {
    expect(rangeBase(undefined, '0'.repeat(40))).toBeUndefined()
  })

  it('ignores what is not a commit', () => {
    expect(rangeBase('fatal: not a git repository', 'HEAD~1')).toBeUndefined()
  })
})
