import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { FakeGitHubApi } from '../__fixtures__/fake-github-api.js'
import {
  baseInputs,
  docker,
  dropletReset,
  dropletUp,
  imageId,
  pushCommit,
  runAction,
  runningContainers,
  served,
  type Droplet
} from './harness.js'

jest.setTimeout(180_000)

let droplet: Droplet
let inputs: Record<string, string>
let api: FakeGitHubApi

beforeAll(async () => {
  droplet = dropletUp()
  inputs = { ...baseInputs(droplet), 'github-token': 'test-token' }
  api = await new FakeGitHubApi().start()
})
afterAll(() => api.stop())
beforeEach(() => dropletReset())

const production = () => runningContainers().find(c => c.name === droplet.CONTAINER)!

describe('the GitHub side, against a fake GitHub API on loopback', () => {
  it('leaves the host untouched when no changed file matches `paths`', async () => {
    const before = production()
    const sha = pushCommit(droplet, 'Only the docs', { 'NOTES.md': 'docs\n' })
    api.compare(droplet.BASELINE_COMMIT, sha, {
      commits: [{ sha, message: 'Only the docs', author: 'Ada' }],
      files: ['NOTES.md']
    })
    const run = await runAction(
      { ...inputs, paths: 'src/**\n!src/**/*.md' },
      { sha, env: { GITHUB_API_URL: api.url } }
    )

    expect(run.code).toBe(0)
    expect(run.outputs.deployed).toBe('false')
    expect(run.summary).toMatch(
      /No changed file matches `paths` \(src\/\*\*, !src\/\*\*\/\*\.md\); nothing to deploy\. Changed: NOTES\.md/
    )
    expect(run.log).not.toContain('::group::Create the admin container')
    expect(production()).toEqual(before)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
  })

  it('deploys a matching change, listing GitHub’s commits, and records a GitHub deployment', async () => {
    const sha = pushCommit(droplet, 'Change the API', { 'api.txt': 'v2\n' })
    api.compare(droplet.BASELINE_COMMIT, sha, {
      commits: [{ sha, message: 'Change the API', author: 'Ada' }],
      files: ['api.txt']
    })
    const run = await runAction(
      {
        ...inputs,
        paths: 'api.txt',
        environment: 'production',
        'environment-url': 'https://api.example.com'
      },
      { sha, env: { GITHUB_API_URL: api.url } }
    )
    expect(run.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    expect(run.summary).toMatch(/1 commit \(from GitHub\)[\s\S]*Change the API \(Ada\)/)
    const created = api.requestsTo('POST', /\/deployments$/).at(-1)!.body
    expect(created).toMatchObject({
      ref: sha,
      environment: 'production',
      required_contexts: [],
      auto_merge: false
    })
    expect(api.statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(api.statuses.at(-1)).toMatchObject({ environment_url: 'https://api.example.com' })
  })

  it('still deploys when the GitHub API is unreachable, taking the range and files from git on the host', async () => {
    const sha = pushCommit(droplet, 'While GitHub is down', { 'api.txt': 'v3\n' })
    const run = await runAction(
      { ...inputs, paths: 'api.txt' },
      { sha, env: { GITHUB_API_URL: 'http://127.0.0.1:9' } }
    )
    expect(run.code).toBe(0)
    expect(run.log).toMatch(/GitHub's compare API is not available/)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    expect(run.summary).toMatch(/1 commit \(from git on the host\)/)
  })

  it('with the API down, decides `paths` from git on the host and changes nothing in production', async () => {
    const before = production()
    const sha = pushCommit(droplet, 'Docs only, GitHub down', { 'NOTES.md': 'more docs\n' })
    const run = await runAction(
      { ...inputs, paths: 'api.txt' },
      { sha, env: { GITHUB_API_URL: 'http://127.0.0.1:9' } }
    )
    expect(run.code).toBe(0)
    expect(run.outputs.deployed).toBe('false')
    expect(production()).toEqual(before)
    expect(docker(`ps -a --format '{{.Names}}'`)).not.toContain('admin')
  })
})
