import { beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { startLoad, type LoadResult } from '../bench/load.mjs'
import {
  baseInputs,
  docker,
  dropletReset,
  dropletUp,
  imageId,
  pushCommit,
  runAction,
  runningContainers,
  type Droplet
} from './harness.js'

// The zero-downtime handover (`handover: caddy`) through the droplet's Caddy, which has no retries
// configured: any request that meets a closed port fails, so every gap shows.

jest.setTimeout(180_000)

let droplet: Droplet
let inputs: Record<string, string>
const BUILD = readFileSync(new URL('./sample-app/build.sh', import.meta.url), 'utf8')
const APP_PORT = () => Number(new URL(droplet.APP_URL).port)
// A spare port beside production on the host network, from the droplet's own.
const STANDIN_PORT = () => APP_PORT() + 7

beforeAll(() => {
  droplet = dropletUp()
  inputs = {
    ...baseInputs(droplet),
    handover: 'caddy',
    'app-port': String(APP_PORT()),
    'standin-port': String(STANDIN_PORT()),
    'caddy-admin': droplet.CADDY_ADMIN,
    'canary-seconds': '0',
    'stable-seconds': '0'
  }
})
beforeEach(() => dropletReset())

/** Load through the proxy while `during` runs; an answer naming `brokenCommit` counts as broken. */
async function underLoad<T>(
  during: () => Promise<T>,
  brokenCommit?: string
): Promise<{ result: T; load: LoadResult }> {
  const load = startLoad({
    url: droplet.PROXY_URL,
    clients: 4,
    maxSeconds: 150,
    timeoutMs: 10_000,
    classify: (status, body) =>
      brokenCommit && body.includes(brokenCommit)
        ? 'broken'
        : status === 200 && body.startsWith('commit=')
          ? 'good'
          : 'bad'
  })
  try {
    const result = await during()
    return { result, load: await load.stop() }
  } catch (error) {
    await load.stop()
    throw error
  }
}

/** Caddy's upstream ports, from its admin API. */
async function upstreamPorts(): Promise<number[]> {
  const config = JSON.stringify(await (await fetch(`${droplet.CADDY_ADMIN}/config/`)).json())
  return [...config.matchAll(/"dial":"[^"]*:(\d+)"/g)].map(m => Number(m[1]))
}

async function throughProxy(): Promise<string> {
  return (await fetch(droplet.PROXY_URL)).text()
}

function standins(): string[] {
  return docker(`ps -a --filter label=hermes-deploy.standin --format '{{.Names}}'`)
    .split('\n')
    .filter(Boolean)
}

describe('the handover through Caddy', () => {
  it('deploys under load with no failed request, and gives the traffic back to production', async () => {
    const sha = pushCommit(droplet, 'Handover release', { 'greeting.txt': 'handover\n' })
    const { result: run, load } = await underLoad(() => runAction(inputs, { sha }))

    expect(run.code).toBe(0)
    expect(run.outputs.deployed).toBe('true')
    expect(run.log).toMatch(
      /Stand-in texasca-api-standin of \w+ answers on port \d+; Caddy sends it/
    )
    expect(load.requests).toBeGreaterThan(50)
    expect(load).toMatchObject({ failed: 0, errors: 0, broken: 0 })
    expect(await throughProxy()).toContain(`commit=${sha}`)
    expect(await upstreamPorts()).toEqual([APP_PORT()])
    expect(standins()).toEqual([])
    const production = runningContainers().find(c => c.name === droplet.CONTAINER)!
    expect(production.image).toBe(imageId(`${droplet.IMAGE}:latest`))
  })

  it('never sends a request to a release that does not answer its ready path; production is untouched', async () => {
    // The release serves, but 404 for every page: its build writes no index.html.
    const sha = pushCommit(droplet, 'Release that serves errors', {
      'build.sh': BUILD.replace(
        'printf \'commit=%s\\nmessage=%s\\n\' "$sha" "$subject" >build/index.html',
        'printf \'commit=%s\\n\' "$sha" >build/other.html'
      )
    })
    const { result: run, load } = await underLoad(
      () => runAction({ ...inputs, 'health-timeout': '4' }, { sha }),
      sha
    )

    expect(run.code).not.toBe(0)
    expect(run.outputs.deployed).toBe('false')
    expect(run.log).toMatch(/stand-in did not answer \/ \(`ready-path`\) on port \d+ within 4 s/)
    expect(run.log).toMatch(/last: 404/)
    expect(load).toMatchObject({ failed: 0, broken: 0 })
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(await throughProxy()).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(await upstreamPorts()).toEqual([APP_PORT()])
    expect(standins()).toEqual([])
  })

  it('rolls back under load with no failed request when the release fails its health command', async () => {
    // The stand-in answers; production's health command (which reads a file only the
    // release lacks) fails after the swap, and the rollback runs while the stand-in serves.
    const sha = pushCommit(droplet, 'Release that fails its health command', {
      'greeting.txt': 'rollback\n'
    })
    const { result: run, load } = await underLoad(() =>
      runAction(
        {
          ...inputs,
          'health-command': `docker exec ${droplet.CONTAINER} test ! -f /srv/app/greeting.txt`,
          'health-timeout': '3'
        },
        { sha }
      )
    )

    expect(run.code).not.toBe(0)
    expect(run.outputs['rolled-back']).toBe('true')
    expect(load).toMatchObject({ failed: 0, errors: 0 })
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(await throughProxy()).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(await upstreamPorts()).toEqual([APP_PORT()])
    expect(standins()).toEqual([])
  })

  it('after a kill during the handover, the post step leaves production serving and Caddy on it', async () => {
    const sha = pushCommit(droplet, 'Killed during the handover', { 'greeting.txt': 'killed\n' })
    const main = await runAction(inputs, {
      sha,
      killAt: { text: 'Caddy sends it the traffic', signal: 'SIGKILL' }
    })
    expect(main.signal).toBe('SIGKILL')
    // Killed with the stand-in serving: the proxy points at it.
    expect(await upstreamPorts()).toEqual([STANDIN_PORT()])
    expect(standins()).toEqual([`${droplet.CONTAINER}-standin`])

    const { result: post, load } = await underLoad(() => runAction(inputs, { sha, postOf: main }))
    expect(post.code).toBe(0)
    expect(post.log).toMatch(/Caddy sends the traffic to production on port \d+; removed/)
    expect(load).toMatchObject({ failed: 0, errors: 0 })
    expect(await upstreamPorts()).toEqual([APP_PORT()])
    expect(standins()).toEqual([])
    expect(runningContainers().filter(c => c.name === droplet.CONTAINER)).toHaveLength(1)
    expect((await throughProxy()).startsWith('commit=')).toBe(true)
  })
})
