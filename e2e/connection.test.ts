import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest
} from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  baseInputs,
  docker,
  dropletReset,
  dropletUp,
  pushCommit,
  ROOT,
  runAction,
  served,
  type Droplet
} from './harness.js'

jest.setTimeout(180_000)

interface Bastion {
  BASTION_PORT: string
  BASTION_USER: string
  BASTION_KEY_PATH: string
  BASTION_PASSWORD: string
  BASTION_FINGERPRINT: string
  LEGACY_PORT: string
  LEGACY_FINGERPRINT: string
  CORE_PASSWORD: string
}

const BASTION = join(ROOT, 'e2e', 'droplet', 'bastion.sh')
function bastionSh(...args: string[]): void {
  execFileSync('bash', [BASTION, ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
}
let droplet: Droplet
let bastion: Bastion
let inputs: Record<string, string>
const BUILD = readFileSync(new URL('./sample-app/build.sh', import.meta.url), 'utf8')

beforeAll(() => {
  droplet = dropletUp()
  bastionSh('up')
  bastion = JSON.parse(readFileSync(join(droplet.STATE_DIR, 'bastion.json'), 'utf8')) as Bastion
  inputs = baseInputs(droplet)
})
afterAll(() => bastionSh('down'))
beforeEach(() => dropletReset())
afterEach(() => bastionSh('isolate', 'off'))

describe('connection options', () => {
  it('deploys through a bastion when the droplet is reachable only through it, both host keys pinned', async () => {
    bastionSh('isolate', 'on')
    const direct = await runAction(inputs, { sha: droplet.BASELINE_COMMIT })
    expect(direct.code).not.toBe(0)
    expect(direct.log).toMatch(/Could not reach core@127\.0\.0\.1:2222/)

    const sha = pushCommit(droplet, 'Through the bastion', { 'greeting.txt': 'jump\n' })
    const via = {
      ...inputs,
      'proxy-host': '127.0.0.1',
      'proxy-port': bastion.BASTION_PORT,
      'proxy-username': bastion.BASTION_USER,
      'proxy-ssh-key': readFileSync(bastion.BASTION_KEY_PATH, 'utf8'),
      'proxy-host-fingerprint': bastion.BASTION_FINGERPRINT
    }
    const run = await runAction(via, { sha })
    expect(run.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)

    // The bastion's own key is checked as strictly as the droplet's.
    const wrong = await runAction(
      { ...via, 'proxy-host-fingerprint': droplet.HOST_FINGERPRINT },
      { sha }
    )
    expect(wrong.code).not.toBe(0)
    expect(wrong.log).toMatch(
      /host key of jump@127\.0\.0\.1:2223 does not match `proxy-host-fingerprint`\. POSSIBLE ATTACK/
    )
  })

  it('logs in to the bastion with a password', async () => {
    bastionSh('isolate', 'on')
    const run = await runAction(
      {
        ...inputs,
        'dry-run': 'true',
        'proxy-host': '127.0.0.1',
        'proxy-port': bastion.BASTION_PORT,
        'proxy-username': bastion.BASTION_USER,
        'proxy-password': bastion.BASTION_PASSWORD,
        'proxy-ssh-key': '',
        'proxy-host-fingerprint': bastion.BASTION_FINGERPRINT
      },
      { sha: droplet.BASELINE_COMMIT }
    )
    expect(run.code).toBe(0)
  })

  it('logs in with a password, offering the old cipher the server needs, and warns it is weak', async () => {
    const legacy = {
      ...inputs,
      port: bastion.LEGACY_PORT,
      'host-fingerprint': bastion.LEGACY_FINGERPRINT,
      'ssh-key': '',
      password: bastion.CORE_PASSWORD,
      'dry-run': 'true'
    }
    const modern = await runAction(legacy, { sha: droplet.BASELINE_COMMIT })
    expect(modern.code).not.toBe(0)
    expect(modern.log).toMatch(/no matching .*cipher.*set `ciphers`/i)

    const old = await runAction(
      { ...legacy, ciphers: 'aes256-cbc' },
      { sha: droplet.BASELINE_COMMIT }
    )
    expect(old.code).toBe(0)
    expect(old.log).toMatch(/`ciphers` offers weak ciphers \(aes256-cbc\)/)
    expect(old.log).not.toContain(bastion.CORE_PASSWORD)

    const refused = await runAction(
      { ...legacy, ciphers: 'aes256-cbc', password: 'wrong-password' },
      { sha: droplet.BASELINE_COMMIT }
    )
    expect(refused.code).not.toBe(0)
    expect(refused.log).toMatch(
      /refused every method tried \(password\)\. Check that `password` is right/
    )
  })

  it('reads the key from a file on the runner', async () => {
    const { 'ssh-key': _key, ...rest } = inputs
    const run = await runAction(
      { ...rest, 'ssh-key-path': droplet.KEY_ECDSA_PATH, 'dry-run': 'true' },
      { sha: droplet.BASELINE_COMMIT }
    )
    expect(run.code).toBe(0)
  })

  it('gives build-env to the build without it ever showing in ps on the host or in the log', async () => {
    const secret = 'tok-' + Math.random().toString(36).slice(2)
    const sha = pushCommit(droplet, 'Build that needs a token', {
      'build.sh': BUILD.replace(
        'set -eu\n',
        'set -eu\nsleep 3\nprintf "%s" "$API_TOKEN" >/tmp/hermes-token\n'
      )
    })
    const seen: string[] = []
    const sampling = setInterval(
      () => seen.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })),
      200
    )
    const run = await runAction(
      { ...inputs, 'build-env': `API_TOKEN=${secret}\nMODE=production` },
      { sha }
    )
    clearInterval(sampling)

    expect(run.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    // The build saw it (the committed image carries the file the build wrote)…
    expect(docker(`exec ${droplet.CONTAINER} cat /tmp/hermes-token`)).toBe(secret)
    // …but no command line on the host ever held it, nor the log.
    expect(seen.length).toBeGreaterThan(5)
    expect(seen.join('\n')).not.toContain(secret)
    expect(run.log.replace(/^::add-mask::.*$/gm, '')).not.toContain(secret)
    expect(
      JSON.stringify(
        JSON.parse(docker(`image inspect --format '{{json .Config.Env}}' ${droplet.IMAGE}:latest`))
      )
    ).not.toContain(secret)
  })
})
