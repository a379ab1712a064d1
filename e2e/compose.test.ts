import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  baseInputs,
  docker,
  dropletReset,
  dropletUp,
  imageId,
  pushCommit,
  runAction,
  sh,
  type Droplet
} from './harness.js'

// A droplet whose app is a service of a Compose project (Debian's docker-compose 1.29), with a
// companion service it depends on that a deploy must not restart.

jest.setTimeout(180_000)

let droplet: Droplet
let inputs: Record<string, string>
const IMAGE = 'texasca/compose'
let PROJECT = ''
let DIR = ''
let PORT = 0
/** The app's first image: the droplet's baseline with a label of its own, so no other container runs it. */
let BASELINE = ''
const app = () => `${PROJECT}_app_1`
const companion = () => `${PROJECT}_cache_1`
const compose = (args: string) => sh(`cd ${DIR} && docker-compose -p ${PROJECT} ${args} 2>&1`)
const serves = async () => (await fetch(`http://127.0.0.1:${PORT}/`)).text()
const id = (container: string) => docker(`inspect --format '{{.Id}}' ${container}`)

beforeAll(() => {
  droplet = dropletUp()
  PROJECT = `${droplet.CONTAINER}-compose`
  PORT = Number(new URL(droplet.APP_URL).port) + 6
  // Where the host's deploy user can read it, as a project directory on a droplet.
  const made = docker(`create ${droplet.BASELINE_IMAGE}`)
  BASELINE = docker(
    `commit --change 'LABEL com.example.compose=yes' --change 'ENTRYPOINT ["/srv/app/start.sh"]' ${made} ${IMAGE}:baseline`
  )
  docker(`rm ${made}`)
  DIR = mkdtempSync(join(tmpdir(), 'hermes-compose-'))
  chmodSync(DIR, 0o755)
  writeFileSync(
    join(DIR, 'docker-compose.yml'),
    [
      'version: "3.7"',
      'services:',
      '  app:',
      `    image: ${IMAGE}:latest`,
      '    network_mode: host',
      '    init: true',
      '    restart: unless-stopped',
      `    environment: { PORT: "${PORT}", RUNTIME_SECRET: from-compose }`,
      '    depends_on: [cache]',
      '  cache:',
      `    image: ${docker("image ls --format '{{.Repository}}:{{.Tag}}' hermes-e2e/base").split('\n')[0]}`,
      '    network_mode: host',
      '    init: true',
      '    entrypoint: ["sleep", "infinity"]',
      ''
    ].join('\n')
  )
  inputs = {
    ...baseInputs(droplet),
    image: IMAGE,
    'health-command': `curl -fsS --max-time 5 http://127.0.0.1:${PORT}/ >/dev/null`,
    'canary-seconds': '0',
    'stable-seconds': '1'
  }
})
beforeEach(async () => {
  dropletReset()
  docker(`tag ${BASELINE} ${IMAGE}:latest`)
  compose('up -d')
  for (let i = 0; i < 50 && !(await serves().catch(() => '')).startsWith('commit='); i++)
    await new Promise(resolve => setTimeout(resolve, 100))
})
afterAll(() => {
  compose('down')
  sh(`docker image ls --format '{{.Repository}}:{{.Tag}}' ${IMAGE} | xargs -r docker rmi`)
})

describe('a host whose app is a Compose service', () => {
  it('deploys through Compose: the service alone is recreated from the release, its companion untouched', async () => {
    const cache = id(companion())
    const sha = pushCommit(droplet, 'Compose release', { 'greeting.txt': 'compose\n' })
    const run = await runAction(inputs, { sha })
    expect(run.code).toBe(0)
    expect(run.log).toMatch(/comes back by Compose: it is the service app of the Compose project/)
    expect(await serves()).toContain(`commit=${sha}`)
    expect(docker(`inspect --format '{{.Image}}' ${app()}`)).toBe(imageId(`${IMAGE}:latest`))
    expect(imageId(`${IMAGE}:latest`)).not.toBe(BASELINE)
    expect(id(companion())).toBe(cache)
    // Still Compose's: the service's own environment and labels.
    expect(docker(`inspect --format '{{json .Config.Env}}' ${app()}`)).toContain(
      'RUNTIME_SECRET=from-compose'
    )
    expect(compose('ps --services --filter status=running').split('\n').sort()).toEqual([
      'app',
      'cache'
    ])
  })

  it('rolls a failing release back through Compose', async () => {
    const cache = id(companion())
    const sha = pushCommit(droplet, 'Compose release that fails', { 'greeting.txt': 'fails\n' })
    const run = await runAction(
      {
        ...inputs,
        'health-command': `docker exec ${app()} test ! -f /srv/app/greeting.txt`,
        'health-timeout': '3'
      },
      { sha }
    )
    expect(run.code).not.toBe(0)
    expect(run.outputs['rolled-back']).toBe('true')
    expect(await serves()).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(imageId(`${IMAGE}:latest`)).toBe(BASELINE)
    expect(id(companion())).toBe(cache)
  })

  it('after a kill during the swap, the post step puts the previous release back', async () => {
    const sha = pushCommit(droplet, 'Compose release killed', { 'greeting.txt': 'killed\n' })
    const main = await runAction(inputs, {
      sha,
      killAt: { group: 'Replace production', signal: 'SIGKILL', delayMs: 500 }
    })
    expect(main.signal).toBe('SIGKILL')
    const post = await runAction(inputs, { sha, postOf: main })
    expect(post.code).toBe(0)
    expect(imageId(`${IMAGE}:latest`)).toBe(BASELINE)
    let body = ''
    for (let i = 0; i < 50 && !body.includes(droplet.BASELINE_COMMIT); i++) {
      body = await serves().catch(() => '')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(body).toContain(`commit=${droplet.BASELINE_COMMIT}`)
  })
})
