import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { FakeGitHubApi, forbidden } from '../__fixtures__/fake-github-api.js'
import {
  GitHubDeployment,
  isProductionEnvironment,
  type DeploymentOptions
} from '../src/github/deployments.js'
import { deferFinish } from '../src/github/side.js'

const SHA = 'b'.repeat(40)
const RUN_URL = 'https://github.com/texasca/texasca-api/actions/runs/42'

describe('the GitHub deployment of a release', () => {
  let api: FakeGitHubApi
  beforeEach(async () => {
    api = await new FakeGitHubApi().start()
  })
  afterEach(async () => {
    await api.stop()
  })

  const deployment = (over: Partial<DeploymentOptions> = {}) =>
    new GitHubDeployment({
      token: 'ghs_token',
      apiUrl: api.url,
      repository: 'texasca/texasca-api',
      environment: 'production',
      sha: SHA,
      environmentUrl: 'https://api.texasca.com',
      logUrl: RUN_URL,
      payload: { image: 'texasca/api' },
      ...over
    })

  it('creates a deployment of the commit and marks it in progress', async () => {
    const d = deployment()
    expect(await d.start()).toEqual({ ok: true })
    expect(d.id).toBe(api.deployments[0].id)

    const [create] = api.requestsTo('POST', /\/deployments$/)
    expect(create.path).toBe('/repos/texasca/texasca-api/deployments')
    expect(create.headers.authorization).toBe('token ghs_token')
    expect(create.body).toEqual({
      ref: SHA,
      environment: 'production',
      description: `Deploy ${SHA.slice(0, 12)} to production`,
      task: 'deploy',
      required_contexts: [],
      auto_merge: false,
      production_environment: true,
      transient_environment: false,
      payload: { image: 'texasca/api' }
    })
    expect(api.statuses).toEqual([
      expect.objectContaining({
        deployment_id: d.id,
        state: 'in_progress',
        log_url: RUN_URL,
        environment_url: 'https://api.texasca.com',
        auto_inactive: false
      })
    ])
  })

  it('posts success with the environment URL, making older deployments inactive', async () => {
    const d = deployment()
    await d.start()
    expect(await d.finish('success')).toEqual({ ok: true })
    expect(api.statuses.at(-1)).toEqual({
      id: expect.any(Number),
      deployment_id: d.id,
      state: 'success',
      description: `Deployed ${SHA.slice(0, 12)} to production`,
      log_url: RUN_URL,
      environment_url: 'https://api.texasca.com',
      auto_inactive: true
    })
  })

  it('posts failure, leaving the deployment production still runs active', async () => {
    const d = deployment()
    await d.start()
    expect(await d.finish('failure', 'Health check failed; rolled back')).toEqual({ ok: true })
    const failure = api.statuses.at(-1)!
    expect(failure).toMatchObject({
      state: 'failure',
      description: 'Health check failed; rolled back',
      log_url: RUN_URL,
      auto_inactive: false
    })
    expect(failure).not.toHaveProperty('environment_url')
  })

  it('leaves out the environment URL when there is none', async () => {
    const d = deployment({ environmentUrl: undefined })
    await d.start()
    await d.finish('success')
    for (const status of api.statuses) expect(status).not.toHaveProperty('environment_url')
  })

  it('marks only production-like environments as production', async () => {
    await deployment({ environment: 'staging' }).start()
    expect(api.deployments[0]).toMatchObject({
      environment: 'staging',
      production_environment: false
    })
    expect(isProductionEnvironment('production')).toBe(true)
    expect(isProductionEnvironment('Production')).toBe(true)
    expect(isProductionEnvironment('prod')).toBe(true)
    expect(isProductionEnvironment('production-api')).toBe(true)
    expect(isProductionEnvironment('prod/eu')).toBe(true)
    expect(isProductionEnvironment('productivity')).toBe(false)
    expect(isProductionEnvironment('preprod')).toBe(false)
    expect(isProductionEnvironment('staging')).toBe(false)
  })

  it('clips a description to the 140 characters GitHub takes', async () => {
    const d = deployment()
    await d.start()
    await d.finish('failure', 'x'.repeat(300))
    expect(String(api.statuses.at(-1)!.description)).toHaveLength(140)
  })

  it('warns, naming the missing permission, when the token may not write deployments', async () => {
    api.fail('POST', /\/deployments$/, forbidden('deployments=write'))
    const d = deployment()
    const started = await d.start()
    expect(started.ok).toBe(false)
    expect(!started.ok && started.warning).toBe(
      'Could not create a deployment for environment production on GitHub (403 Resource not accessible by integration): ' +
        'the token lacks the permission to write deployments. GitHub says the request needs deployments=write. ' +
        'Add `permissions: deployments: write` to the job (or the workflow). ' +
        'The deploy itself goes on; only its record on GitHub is missing.'
    )
    expect(d.id).toBeUndefined()
    // Nothing to finish, and nothing more is asked of GitHub.
    expect(await d.finish('success')).toEqual({ ok: true, skipped: true })
    expect(api.requests).toHaveLength(1)
  })

  it('reports a server error instead of throwing', async () => {
    api.fail('POST', /\/deployments$/, { status: 500 })
    const started = await deployment().start()
    expect(started).toEqual({
      ok: false,
      warning: expect.stringMatching(
        /^Could not create a deployment .*\(500 Server Error\)\. The deploy itself goes on/
      )
    })
  })

  it('reports a failed status post and still finishes', async () => {
    const d = deployment()
    api.fail('POST', /\/statuses$/, { status: 502, body: { message: 'Bad Gateway' }, times: 1 })
    const started = await d.start()
    expect(started).toEqual({
      ok: false,
      warning: expect.stringMatching(
        /post the in_progress status of deployment \d+.*502 Bad Gateway/
      )
    })
    expect(await d.finish('success')).toEqual({ ok: true })
    expect(api.statuses.map(s => s.state)).toEqual(['success'])
  })

  it('gives up on a slow API instead of stalling the deploy', async () => {
    api.fail('POST', /\/deployments$/, { delayMs: 3000, status: 201 })
    const started = Date.now()
    const result = await deployment({ timeoutMs: 200 }).start()
    expect(Date.now() - started).toBeLessThan(2000)
    expect(result).toEqual({ ok: false, warning: expect.stringMatching(/no answer within 0.2 s/) })
  })

  it('reports an unreachable API', async () => {
    const url = api.url
    await api.stop()
    const result = await deployment({ apiUrl: url }).start()
    expect(result).toEqual({ ok: false, warning: expect.stringMatching(/unreachable/) })
  })

  it('says to check the commit is pushed when GitHub does not know it', async () => {
    api.fail('POST', /\/deployments$/, {
      status: 422,
      body: { message: `No ref found for: ${SHA}` }
    })
    const result = await deployment().start()
    expect(!result.ok && result.warning).toMatch(/is commit b{40} pushed to texasca\/texasca-api\?/)
  })

  it('records nothing without a token, and says so', async () => {
    const result = await deployment({ token: '' }).start()
    expect(result).toEqual({
      ok: false,
      warning:
        'No GitHub deployment is recorded for environment production: there is no `github-token`. The deploy goes on.'
    })
    expect(api.requests).toHaveLength(0)
  })
})

describe('one deployment record for a rollout to several hosts', () => {
  it('writes the result once every host is done, not when the first host is', async () => {
    const calls: string[] = []
    const record = {
      start: async () => (calls.push('start'), { ok: true }),
      finish: async (outcome: 'success' | 'failure', description?: string) => (
        calls.push(`finish ${outcome} ${description ?? ''}`.trim()),
        { ok: true }
      )
    }
    const deferred = deferFinish(record)
    await deferred.record.start()
    await deferred.record.finish('success')
    expect(calls).toEqual(['start'])
    await deferred.settle('failure', 'The rollout stopped at 10.0.0.2:22')
    expect(calls).toEqual(['start', 'finish failure The rollout stopped at 10.0.0.2:22'])
  })

  it('writes nothing when the deploy never started a deployment', async () => {
    const calls: string[] = []
    const deferred = deferFinish({
      start: async () => (calls.push('start'), { ok: true }),
      finish: async () => (calls.push('finish'), { ok: true })
    })
    await deferred.settle('success')
    expect(calls).toEqual([])
  })
})
