import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
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
  sh,
  type ActionRun,
  type Droplet
} from './harness.js'

jest.setTimeout(300_000)

let droplet: Droplet
let inputs: Record<string, string>
const LOCK_FILE = '/run/lock/hermes-deploy/texasca_api.lock'
const PWNED = '/tmp/hermes-pwned'
const BUILD = readFileSync(new URL('./sample-app/build.sh', import.meta.url), 'utf8')

beforeAll(() => {
  droplet = dropletUp()
  inputs = baseInputs(droplet)
})
beforeEach(() => {
  dropletReset()
  sh(`rm -f ${PWNED}`)
})

/**
 * The invariant of every fault: production serves a complete version (one it was given, built
 * whole), exactly one production container runs, no admin container and no lock is left.
 */
async function expectSafe(versions: string[]) {
  const page = await served(droplet)
  expect(versions.some(sha => page.includes(`commit=${sha}`))).toBe(true)
  expect(runningContainers().filter(c => c.name === droplet.CONTAINER)).toHaveLength(1)
  // The lock file stays; no process may keep it (the kernel releases it with its holder). A
  // deploy's work after the job (the admin container's removal, retention) holds it for a second
  // or so: it must be free soon after, and that work done.
  expect(
    sh(
      `if [ ! -e ${LOCK_FILE} ] || flock -w 15 ${LOCK_FILE} true; then echo free; else echo held; fi`
    )
  ).toBe('free')
  expect(docker(`ps -a --format '{{.Names}}'`).split('\n')).not.toContain(
    `${droplet.CONTAINER}-admin`
  )
}

/** A build that takes a few seconds, so a fault can land in the middle of it. */
const slowBuild = (seconds: number) => ({
  'build.sh': BUILD.replace('set -eu\n', `set -eu\necho "build.sh: slow start"\nsleep ${seconds}\n`)
})

describe('fail-safety on the local droplet', () => {
  it('serialises two deploys started at once: one waits for the lock, the newer commit ends up serving', async () => {
    const first = pushCommit(droplet, 'First merge', { 'greeting.txt': 'one\n', ...slowBuild(2) })
    const second = pushCommit(droplet, 'Second merge', { 'greeting.txt': 'two\n' })
    const [a, b] = await Promise.all([
      runAction(inputs, { sha: first }),
      runAction(inputs, { sha: second })
    ])

    expect([a.code, b.code]).toEqual([0, 0])
    expect(a.log + b.log).toMatch(
      /Waiting for the deploy lock, held by texasca\/api https:\/\/github\.com\/texasca\/api\/actions\/runs\/4242 \(commit [0-9a-f]{12}\) since /
    )
    expect(await served(droplet)).toContain(`commit=${second}`)
    await expectSafe([second])
  })

  it('refuses to deploy while someone works in the admin container by hand', async () => {
    // As the runbook's admin script makes it: an interactive shell, detached with Ctrl+P+Q.
    docker(
      `run -dit --name ${droplet.CONTAINER}-admin --network host --entrypoint bash ${droplet.IMAGE}`
    )
    docker(`exec -d ${droplet.CONTAINER}-admin sleep 60`)
    const production = runningContainers().find(c => c.name === droplet.CONTAINER)!.id
    const sha = pushCommit(droplet, 'While a person is in the admin container', {
      'greeting.txt': 'busy\n'
    })
    const run = await runAction(inputs, { sha })
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/Someone is working in texasca-api-admin/)
    expect(runningContainers().find(c => c.name === droplet.CONTAINER)!.id).toBe(production)
    docker(`rm -f ${droplet.CONTAINER}-admin`)
  })

  const steps = [
    'Take the deploy lock',
    'Find the production container',
    'Create the admin container',
    'Check the checkout',
    'Update to',
    'Build',
    'Commit the release image',
    'Replace production'
  ]
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it.each(steps)(`recovers in the post step after ${signal} at "%s"`, async step => {
      const sha = pushCommit(droplet, `Killed at ${step}`, {
        'greeting.txt': `${step}\n`,
        ...slowBuild(step === 'Build' ? 3 : 0)
      })
      const main = await runAction(inputs, {
        sha,
        killAt: { group: step, signal, delayMs: step === 'Build' ? 1500 : 0 }
      })
      expect(main.signal).toBe(signal)
      expect(main.state.isPost).toBe('true')

      const post = await runAction(inputs, { sha, postOf: main })
      expect(post.code).toBe(0)
      await expectSafe([droplet.BASELINE_COMMIT, sha])
      // Nothing is left that blocks the next run.
      const next = pushCommit(droplet, 'After the recovery', { 'greeting.txt': 'next\n' })
      expect((await runAction(inputs, { sha: next })).code).toBe(0)
      await expectSafe([next])
    })
  }

  it('keeps the tag on production while the canary runs: a supervisor restart then starts the old release', async () => {
    const START = readFileSync(new URL('./sample-app/start.sh', import.meta.url), 'utf8')
    const sha = pushCommit(droplet, 'Release that cannot start, restarted under', {
      'start.sh': START.replace(
        'exec busybox httpd',
        'echo "start.sh: crashing" >&2; exit 1; exec busybox httpd'
      )
    })
    // What the tag names, sampled all through the run.
    const named = new Set<string>()
    const sample = setInterval(() => {
      try {
        named.add(imageId(`${droplet.IMAGE}:latest`))
      } catch {
        named.add('missing')
      }
    }, 100)
    let restarted = false
    const run = await runAction(
      { ...inputs, 'canary-seconds': '4' },
      {
        sha,
        // Production crashes (an OOM kill, say) while the release is in its canary.
        onLog: log => {
          if (restarted || !log.includes('::group::Canary')) return
          restarted = true
          sh(`docker rm -f ${droplet.CONTAINER}`)
        }
      }
    ).finally(() => clearInterval(sample))

    expect(restarted).toBe(true)
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/Deploy failed at "Canary"/)
    expect([...named]).toEqual([droplet.BASELINE_IMAGE])
    // The supervisor respawned production from the tag: the old release, serving.
    for (let i = 0; i < 50 && !(await served(droplet)); i++)
      await new Promise(r => setTimeout(r, 200))
    await expectSafe([droplet.BASELINE_COMMIT])
    expect(runningContainers().find(c => c.name === droplet.CONTAINER)!.image).toBe(
      droplet.BASELINE_IMAGE
    )
  })

  it('fails naming the step when the connection drops mid-build; the next run recovers', async () => {
    const sha = pushCommit(droplet, 'Cut mid-build', { 'greeting.txt': 'cut\n', ...slowBuild(4) })
    let cutDone = false
    const cut: Promise<ActionRun> = runAction(inputs, {
      sha,
      onLog: log => {
        if (log.includes('build.sh: slow start') && !cutDone) {
          cutDone = true
          // The user side of each session of this droplet's sshd (the benchmark's droplet has
          // its own): killing it drops the connection, as a network fault would.
          sh(
            `for p in $(pgrep -P $(cat ${droplet.STATE_DIR}/sshd/sshd.pid) -f 'sshd: core'); do pkill -KILL -P $p; done; true`
          )
        }
      }
    })
    const run = await cut
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/Deploy failed at "Build \(\.\/build\.sh\)": .*connection/i)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)

    const next = await runAction(inputs, { sha })
    expect(next.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    await expectSafe([sha])
  })

  describe('with the supervisor stopped', () => {
    afterEach(() => {
      dropletUp() // starts the supervisor again
    })

    it('rolls back and starts production itself, saying the supervisor is down', async () => {
      const pid = readFileSync(join(droplet.STATE_DIR, 'supervisor.pid'), 'utf8').trim()
      sh(`kill ${pid}; sleep 0.5`)
      const sha = pushCommit(droplet, 'No one to respawn it', { 'greeting.txt': 'alone\n' })
      const run = await runAction({ ...inputs, 'respawn-timeout': '5' }, { sha })

      expect(run.code).not.toBe(0)
      expect(run.outputs['rolled-back']).toBe('true')
      expect(run.log).toMatch(
        /No container of [0-9a-f]{12} started within 5 s \(`respawn-timeout`\)\. Is the supervisor/
      )
      expect(run.log).toMatch(
        /No supervisor restarted texasca-api: starting it .* It is NOT supervised/
      )
      expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
      await expectSafe([droplet.BASELINE_COMMIT])
      // Started as the supervisor starts it: same network, same runtime environment.
      expect(docker(`inspect --format '{{json .Config.Env}}' ${droplet.CONTAINER}`)).toContain(
        'RUNTIME_SECRET=from-supervisor'
      )
    })
  })

  it.each([
    ['host', 'localhost;touch /tmp/hermes-pwned'],
    ['port', '2222;touch /tmp/hermes-pwned'],
    ['username', 'core;touch /tmp/hermes-pwned'],
    ['image', 'texasca/api;touch /tmp/hermes-pwned'],
    ['image', 'texasca/api:$(touch /tmp/hermes-pwned)'],
    ['container', '$(touch /tmp/hermes-pwned)'],
    ['admin-container', 'x`touch /tmp/hermes-pwned`'],
    ['repo-path', "/srv/app'; touch /tmp/hermes-pwned; '"],
    ['branch', 'master;touch /tmp/hermes-pwned'],
    ['branch', '--upload-pack=touch /tmp/hermes-pwned'],
    ['ref', '$(touch /tmp/hermes-pwned)'],
    ['ref', '--output=/tmp/hermes-pwned'],
    ['health-timeout', '5;touch /tmp/hermes-pwned'],
    ['respawn-timeout', '$(touch /tmp/hermes-pwned)'],
    ['lock-timeout', '`touch /tmp/hermes-pwned`'],
    ['host-fingerprint', 'SHA256:$(touch /tmp/hermes-pwned)'],
    ['ssh-known-hosts', '[127.0.0.1]:2222 ssh-ed25519 $(touch /tmp/hermes-pwned)'],
    ['ssh-passphrase', "'; touch /tmp/hermes-pwned; '"]
  ])('rejects a hostile %s without running it', async (name, value) => {
    const production = runningContainers().find(c => c.name === droplet.CONTAINER)!.id
    const { 'host-fingerprint': pin, ...unpinned } = inputs
    const given = name === 'ssh-known-hosts' ? unpinned : { ...unpinned, 'host-fingerprint': pin }
    const run = await runAction({ ...given, [name]: value }, { sha: droplet.BASELINE_COMMIT })
    expect(existsSync(PWNED)).toBe(false)
    expect(
      docker(`exec ${droplet.CONTAINER} sh -c 'test -e ${PWNED} && echo yes || echo no'`)
    ).toBe('no')
    expect(runningContainers().find(c => c.name === droplet.CONTAINER)!.id).toBe(production)
    if (name === 'ssh-passphrase') return // ignored for an unencrypted key: the run goes on harmlessly
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(
      new RegExp(`Input \`${name}\`|${name === 'repo-path' ? 'repo-path' : 'ssh-known-hosts'}`)
    )
  })

  it.each([
    ['app-port', '18080;touch /tmp/hermes-pwned'],
    ['standin-port', '$(touch /tmp/hermes-pwned)'],
    ['port-variable', 'PORT;touch /tmp/hermes-pwned'],
    ['ready-path', "/'; touch /tmp/hermes-pwned; '"],
    ['caddy-admin', 'http://127.0.0.1:2019/$(touch /tmp/hermes-pwned)']
  ])('rejects a hostile %s of the handover without running it', async (name, value) => {
    const production = runningContainers().find(c => c.name === droplet.CONTAINER)!.id
    const handover = { handover: 'caddy', 'app-port': new URL(droplet.APP_URL).port }
    const run = await runAction(
      { ...inputs, ...handover, [name]: value },
      { sha: droplet.BASELINE_COMMIT }
    )
    expect(existsSync(PWNED)).toBe(false)
    expect(runningContainers().find(c => c.name === droplet.CONTAINER)!.id).toBe(production)
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(new RegExp(`Input \`${name}\``))
  })

  it('never prints the key or the passphrase, even in debug mode', async () => {
    const key = readFileSync(droplet.KEY_PASS_PATH, 'utf8')
    const run = await runAction(
      { ...inputs, 'ssh-key': key, 'ssh-passphrase': droplet.KEY_PASSPHRASE, 'dry-run': 'true' },
      { sha: droplet.BASELINE_COMMIT, env: { RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true' } }
    )
    expect(run.code).toBe(0)
    expect(run.log).toContain('::debug::')
    for (const line of key.split('\n').filter(l => l.length > 8 && !l.startsWith('-----')))
      expect(run.log).not.toContain(line)
    expect(run.log).not.toContain(droplet.KEY_PASSPHRASE)
  })
})
