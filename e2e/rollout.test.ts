import { beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { readFileSync } from 'node:fs'
import {
  baseInputs,
  dropletReset,
  dropletUp,
  pushCommit,
  otherHost,
  runAction,
  sh,
  type Droplet
} from './harness.js'

jest.setTimeout(300_000)

interface SecondHost {
  PORT: string
  KNOWN_HOSTS: string
  DOCKER_HOST: string
  APP_URL: string
  BASELINE_IMAGE: string
}

let droplet: Droplet
let other: SecondHost
let inputs: Record<string, string>
const START = readFileSync(new URL('./sample-app/start.sh', import.meta.url), 'utf8')
/** A release that cannot start with the second host's configuration. */
const FAILS_ON_SECOND = START.replace(
  'exec busybox httpd',
  '[ "${DROPLET_NAME:-}" != second ] || { echo "start.sh: no config for second" >&2; exit 3; }\nexec busybox httpd'
)

beforeAll(() => {
  droplet = dropletUp()
  otherHost('second', 'down') // its supervisor restarts with the current script
  other = otherHost<SecondHost>('second', 'up')
  const { 'host-fingerprint': _pin, ...rest } = baseInputs(droplet)
  inputs = {
    ...rest,
    host: `${droplet.HOST}:${droplet.PORT}\n${droplet.HOST}:${other.PORT}`,
    'ssh-known-hosts': readFileSync(droplet.KNOWN_HOSTS_PATH, 'utf8') + other.KNOWN_HOSTS + '\n',
    // Each host's app listens on the port its supervisor passes (--port), else the image's PORT.
    'health-command': `port=$(docker inspect --format '{{if .Config.Cmd}}{{index .Config.Cmd 1}}{{end}}' ${droplet.CONTAINER}) && curl -fsS --max-time 5 http://127.0.0.1:\${port:-${new URL(droplet.APP_URL).port}}/ >/dev/null`
  }
})
beforeEach(() => {
  dropletReset()
  otherHost('second', 'reset')
})

const onSecond = (command: string) => sh(`DOCKER_HOST=${other.DOCKER_HOST} ${command}`)
const page = (url: string) => sh(`curl -fsS --max-time 5 ${url} || true`)

describe('one build rolled out to two hosts', () => {
  it('builds once on the first host and runs the identical image on both', async () => {
    const sha = pushCommit(droplet, 'Release for two hosts', { 'greeting.txt': 'two\n' })
    const run = await runAction(inputs, { sha })

    expect(run.code).toBe(0)
    expect(page(droplet.APP_URL)).toContain(`commit=${sha}`)
    expect(page(other.APP_URL)).toContain(`commit=${sha}`)
    const first = sh(`docker image inspect --format '{{.Id}}' ${droplet.IMAGE}:latest`)
    expect(onSecond(`docker image inspect --format '{{.Id}}' ${droplet.IMAGE}:latest`)).toBe(first)
    // The second host runs the previous release: only the layer the build added is sent.
    const copied =
      /Copied [0-9a-f]{12} to 127\.0\.0\.1:\d+: ([\d.]+) MB .*; (\d+) layers it had were not sent/.exec(
        run.log
      )
    expect(copied).not.toBeNull()
    const whole =
      Number(sh(`docker image inspect --format '{{.Size}}' ${droplet.IMAGE}:latest`)) / 1e6
    expect(Number(copied![1])).toBeLessThan(whole / 10)
    // Built once: only the first host ever had an admin container.
    expect(run.log.match(/::group::Build/g)).toHaveLength(1)
    const version = `\`${sha.slice(0, 12)}\` \\| \`${first.slice(7, 19)}\``
    expect(run.summary).toMatch(
      new RegExp(
        `### Hosts[\\s\\S]*127\\.0\\.0\\.1:2222 \\| deployed \\| ${version}[\\s\\S]*127\\.0\\.0\\.1:\\d+ \\| deployed \\| ${version}`
      )
    )
  })

  it('stops at a host where the release fails, rolls that host back, and says where each host is', async () => {
    // A release that cannot start with the second host's configuration.
    const sha = pushCommit(droplet, 'Release that fails on the second host', {
      'start.sh': FAILS_ON_SECOND
    })
    const run = await runAction(
      { ...inputs, 'respawn-timeout': '8', 'health-timeout': '5' },
      { sha }
    )

    expect(run.code).not.toBe(0)
    expect(run.outputs.deployed).toBe('false')
    expect(run.log).toMatch(/The rollout stopped at 127\.0\.0\.1:\d+: /)
    expect(page(droplet.APP_URL)).toContain(`commit=${sha}`) // as documented: hosts before the failure keep it
    expect(page(other.APP_URL)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(onSecond(`docker image inspect --format '{{.Id}}' ${droplet.IMAGE}:latest`)).toBe(
      other.BASELINE_IMAGE
    )
    expect(run.summary).toMatch(/127\.0\.0\.1:\d+ \| rolled-back/)
  })

  it('after a run killed while replacing the second host, the post step rolls that host back', async () => {
    const sha = pushCommit(droplet, 'Release killed on the second host', {
      'start.sh': FAILS_ON_SECOND
    })
    // Killed just after the image reached the second host: while its production is replaced.
    const main = await runAction(
      { ...inputs, 'respawn-timeout': '30' },
      { sha, killAt: { text: 'Copied ', signal: 'SIGKILL', delayMs: 1500 } }
    )
    expect(main.signal).toBe('SIGKILL')

    const post = await runAction(inputs, { sha, postOf: main })

    expect(post.code).toBe(0)
    expect(post.log).toMatch(/The rollout stopped while replacing production on 127\.0\.0\.1:\d+/)
    // The kill came after the second host's tag had moved to the release: a real rollback.
    expect(post.log).toMatch(/was committed but never confirmed healthy: rolling back/)
    expect(onSecond(`docker image inspect --format '{{.Id}}' ${droplet.IMAGE}:latest`)).toBe(
      other.BASELINE_IMAGE
    )
    expect(page(other.APP_URL)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    // The first host finished before the kill and keeps the release.
    expect(page(droplet.APP_URL)).toContain(`commit=${sha}`)
  })
})
