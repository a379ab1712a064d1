import { beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  baseInputs,
  docker,
  dropletReset,
  dropletUp,
  imageConfig,
  imageId,
  pushCommit,
  runAction,
  runningContainers,
  served,
  settled,
  sh,
  type Droplet
} from './harness.js'

jest.setTimeout(180_000)

let droplet: Droplet
let inputs: Record<string, string>
const START = readFileSync(new URL('./sample-app/start.sh', import.meta.url), 'utf8')

beforeAll(() => {
  droplet = dropletUp()
  inputs = baseInputs(droplet)
})
beforeEach(() => dropletReset())

/**
 * The invariants of every run, once the work it left to the host under the lock is done (the
 * admin container's removal, retention): one production container, no admin container left.
 */
function expectCleanHost() {
  settled()
  const running = runningContainers()
  expect(running.filter(c => c.name === droplet.CONTAINER)).toHaveLength(1)
  expect(docker(`ps -a --format '{{.Names}}'`).split('\n')).not.toContain(
    `${droplet.CONTAINER}-admin`
  )
}

describe('deploying to the local droplet over SSH', () => {
  it('deploys a pushed commit: the new commit serves and the image config is intact', async () => {
    const baselineConfig = imageConfig(`${droplet.IMAGE}:latest`)
    const sha = pushCommit(droplet, 'Change the greeting', { 'greeting.txt': 'hello\n' })

    const run = await runAction(inputs, { event: 'push', sha, before: droplet.BASELINE_COMMIT })

    expect(run.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    const newImage = imageId(`${droplet.IMAGE}:latest`)
    expect(newImage).not.toBe(droplet.BASELINE_IMAGE)
    // The baseline's CMD is empty, which Docker leaves out of the config: compared as such.
    expect(imageConfig(newImage).Cmd).toEqual(baselineConfig.Cmd)
    expect(imageConfig(newImage)).toMatchObject({
      Entrypoint: baselineConfig.Entrypoint,
      Env: baselineConfig.Env,
      WorkingDir: baselineConfig.WorkingDir,
      ExposedPorts: baselineConfig.ExposedPorts,
      Labels: baselineConfig.Labels
    })
    // The supervisor's runtime variable reached the build but was not baked into the image.
    expect(JSON.stringify(imageConfig(newImage).Env)).not.toContain('RUNTIME_SECRET')
    expect(imageId(`${droplet.IMAGE}:hermes-previous`)).toBe(droplet.BASELINE_IMAGE)
    expect(run.outputs).toMatchObject({
      deployed: 'true',
      commit: sha,
      'previous-commit': droplet.BASELINE_COMMIT,
      'image-id': newImage,
      'previous-image-id': droplet.BASELINE_IMAGE,
      'rolled-back': 'false'
    })
    const production = runningContainers().find(c => c.name === droplet.CONTAINER)!
    expect(run.outputs['container-id']).toBe(production.id)
    expect(production.image).toBe(newImage)
    expect(run.summary).toContain('Deployed')
    expect(run.summary).toContain('Change the greeting')
    expect(run.log).toContain('build.sh: building commit') // the build's output, streamed
    expect(run.log).toMatch(/::group::Build/)
    expectCleanHost()

    // A second deploy on top of the first: the committed image serves as the base again.
    const next = pushCommit(droplet, 'Second release', { 'greeting.txt': 'hello again\n' })
    const again = await runAction(inputs, { sha: next })
    expect(again.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${next}`)
    expect(again.outputs['previous-commit']).toBe(sha)
  })

  it("stops production gracefully: its stop signal, never a kill (the runbook's docker rm -f)", async () => {
    const log = join(droplet.STATE_DIR, 'supervisor.log')
    const before = readFileSync(log, 'utf8').length
    const sha = pushCommit(droplet, 'Graceful', { 'greeting.txt': 'graceful\n' })

    const run = await runAction(inputs, { sha })

    expect(run.code).toBe(0)
    expect(run.log).not.toMatch(/Stop timed out/)
    // What the supervisor saw of the old production container: it ended on its stop signal
    // (SIGTERM, 143), where docker rm -f kills it (SIGKILL, 137).
    const exits = readFileSync(log, 'utf8')
      .slice(before)
      .match(/texasca-api exited with status \d+/g)
    expect(exits?.[0]).toMatch(/status (0|143)$/)
    expectCleanHost()
  })

  it('deploys from a workflow_dispatch run', async () => {
    const sha = pushCommit(droplet, 'Dispatched release', { 'greeting.txt': 'dispatch\n' })
    const run = await runAction(inputs, { event: 'workflow_dispatch', sha })
    expect(run.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    expect(run.outputs.deployed).toBe('true')
  })

  it('releases the commit production runs again only with `force`', async () => {
    const before = imageId(`${droplet.IMAGE}:latest`)
    const again = await runAction(inputs, { sha: droplet.BASELINE_COMMIT })
    expect(again.code).toBe(0)
    expect(again.outputs.deployed).toBe('false')
    expect(again.log).toMatch(/Set `force: true` to build and release it again/)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(before)

    const forced = await runAction({ ...inputs, force: 'true' }, { sha: droplet.BASELINE_COMMIT })
    expect(forced.code).toBe(0)
    expect(forced.outputs.deployed).toBe('true')
    expect(forced.outputs.commit).toBe(droplet.BASELINE_COMMIT)
    expect(imageId(`${droplet.IMAGE}:latest`)).not.toBe(before)
    expect(await served(droplet)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expectCleanHost()
  })

  it('removes a stale admin container left by an earlier run', async () => {
    const stale = docker(
      `run -d --name ${droplet.CONTAINER}-admin --network host --entrypoint tail ${droplet.IMAGE} -f /dev/null`
    )
    const sha = pushCommit(droplet, 'After a crashed run', { 'greeting.txt': 'stale\n' })
    const run = await runAction(inputs, { sha })
    expect(run.code).toBe(0)
    expect(run.log).toMatch(/left by an earlier run/)
    expect(docker('ps -aq --no-trunc')).not.toContain(stale)
    expect(await served(droplet)).toContain(`commit=${sha}`)
    expectCleanHost()
  })

  it('stops on a dirty checkout, naming the file, with production untouched', async () => {
    // Someone edited a tracked file in production's image by hand.
    docker(`create --name dirty ${droplet.IMAGE}`)
    sh(
      `printf 'echo hacked\\n' > /tmp/hermes-dirty.sh && docker cp /tmp/hermes-dirty.sh dirty:${droplet.REPO_PATH}/build.sh`
    )
    docker(`commit dirty ${droplet.IMAGE}:latest`)
    docker('rm dirty')
    const production = restartProduction()

    const sha = pushCommit(droplet, 'Would ship over a dirty tree', { 'greeting.txt': 'dirty\n' })
    const run = await runAction(inputs, { sha })

    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/uncommitted changes:\s*\n\s*M build\.sh/)
    expect(run.outputs.deployed).toBe('false')
    expect(runningContainers().find(c => c.name === droplet.CONTAINER)?.id).toBe(production)
    expectCleanHost()
  })

  it('stops on a failing build with production untouched', async () => {
    const before = runningContainers().find(c => c.name === droplet.CONTAINER)!
    const sha = pushCommit(droplet, 'Break the build', {
      'build.sh': '#!/bin/sh\necho "compiling..."\necho "error: syntax" >&2\nexit 3\n'
    })
    const run = await runAction(inputs, { sha })

    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(
      /Deploy failed at "Build \(\.\/build\.sh\)": The build command `\.\/build\.sh` exited with code 3/
    )
    expect(run.log).toContain('error: syntax')
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(runningContainers().find(c => c.name === droplet.CONTAINER)?.id).toBe(before.id)
    expect(await served(droplet)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(run.outputs).toMatchObject({ deployed: 'false', 'rolled-back': 'false' })
    expect(run.summary).toContain('Deploy failed')
    expectCleanHost()
  })

  it('rolls back when the new release fails its health check', async () => {
    const sha = pushCommit(droplet, 'Release that cannot start', {
      'start.sh': START.replace(
        'exec busybox httpd',
        'echo "start.sh: crashing" >&2; exit 1; exec busybox httpd'
      )
    })
    // No canary, so the failure is met after the swap, where the health check and rollback are.
    const run = await runAction(
      { ...inputs, 'health-timeout': '5', 'respawn-timeout': '10', 'canary-seconds': '0' },
      { sha }
    )

    expect(run.code).not.toBe(0)
    expect(run.outputs['rolled-back']).toBe('true')
    expect(run.outputs.deployed).toBe('false')
    expect(run.log).toMatch(/Production was rolled back/)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(await served(droplet)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    const production = runningContainers().find(c => c.name === droplet.CONTAINER)!
    expect(production.image).toBe(droplet.BASELINE_IMAGE)
    expect(run.outputs['container-id']).toBe(production.id)
    expect(run.summary).toContain('Rollback')
    expectCleanHost()
  })

  it('stops on a failing pre-deploy command (a migration) with production untouched, its output in the summary', async () => {
    const sha = pushCommit(droplet, 'Release whose migration fails', {
      'greeting.txt': 'migrate\n'
    })
    const run = await runAction(
      {
        ...inputs,
        'pre-deploy-command':
          'echo "migrating with APP_ENV=$APP_ENV from $(cat greeting.txt)"; echo "relation users already exists" >&2; exit 3',
        'post-deploy-command': 'touch /tmp/hermes-post-deploy-ran'
      },
      { sha }
    )

    expect(run.code).not.toBe(0)
    expect(run.outputs.deployed).toBe('false')
    // The release's code, production's environment.
    expect(run.log).toContain('migrating with APP_ENV=production from migrate')
    expect(run.log).toMatch(/`pre-deploy-command`.*exited with code 3/)
    expect(run.summary).toContain('relation users already exists')
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(await served(droplet)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(sh('test -e /tmp/hermes-post-deploy-ran && echo ran || echo no')).toBe('no')
    expectCleanHost()
  })

  it('runs the post-deploy command on the host once the release serves, with what was deployed', async () => {
    const sha = pushCommit(droplet, 'Release with a notification', { 'greeting.txt': 'notify\n' })
    sh('rm -f /tmp/hermes-post-deploy')
    const run = await runAction(
      {
        ...inputs,
        'post-deploy-command':
          'curl -fsS http://127.0.0.1:' +
          new URL(droplet.APP_URL).port +
          '/ | head -n 1 > /tmp/hermes-post-deploy; echo "$HERMES_PREVIOUS_COMMIT..$HERMES_COMMIT" >> /tmp/hermes-post-deploy'
      },
      { sha }
    )
    expect(run.code).toBe(0)
    expect(sh('cat /tmp/hermes-post-deploy').split('\n')).toEqual([
      `commit=${sha}`,
      `${droplet.BASELINE_COMMIT}..${sha}`
    ])
    sh('rm -f /tmp/hermes-post-deploy')
  })

  it('refuses a history that diverged from origin, with production untouched', async () => {
    // Origin was rewritten: production's commit is no longer on master.
    const git = (args: string) => sh(`git -C ${droplet.WORK_DIR} ${args}`)
    git(`commit --quiet --amend -m 'Rewritten history'`)
    git('push --quiet --force origin HEAD:master')
    const sha = git('rev-parse HEAD')

    const run = await runAction(inputs, { sha })
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/has diverged from origin\/master/)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(await served(droplet)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expectCleanHost()
  })

  it('changes nothing in a dry run', async () => {
    // Only this droplet's containers: another droplet (the benchmark's) may share the daemon.
    const mine = () => runningContainers().filter(c => c.name.startsWith(droplet.CONTAINER))
    const before = mine()
    const sha = pushCommit(droplet, 'Planned', { 'greeting.txt': 'plan\n' })
    const run = await runAction({ ...inputs, 'dry-run': 'true' }, { sha })
    expect(run.code).toBe(0)
    expect(run.log).toMatch(/Dry run: nothing was changed/)
    expect(mine()).toEqual(before)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(run.outputs.deployed).toBe('false')
  })

  it('refuses a host key that does not match, before running anything', async () => {
    const run = await runAction(
      { ...inputs, 'host-fingerprint': 'SHA256:' + 'A'.repeat(43) },
      { sha: droplet.BASELINE_COMMIT }
    )
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/does not match `host-fingerprint`\. POSSIBLE ATTACK/)
    expect(run.log).toContain(droplet.HOST_FINGERPRINT)
  })

  it('refuses an unknown host by default and prints the fingerprint to pin', async () => {
    const { 'host-fingerprint': _pin, ...unpinned } = inputs
    const run = await runAction(unpinned, { sha: droplet.BASELINE_COMMIT })
    expect(run.code).not.toBe(0)
    expect(run.log).toContain(`host-fingerprint: ${droplet.HOST_FINGERPRINT}`)
  })

  it('authenticates with a passphrase-protected key and an RSA PEM key against known_hosts lines, and refuses a wrong key', async () => {
    const sha = pushCommit(droplet, 'Via known_hosts', { 'greeting.txt': 'kh\n' })
    const { 'host-fingerprint': _pin, ...rest } = inputs
    const known = { ...rest, 'ssh-known-hosts': readFileSync(droplet.KNOWN_HOSTS_PATH, 'utf8') }
    const withPass = await runAction(
      {
        ...known,
        'ssh-key': readFileSync(droplet.KEY_PASS_PATH, 'utf8'),
        'ssh-passphrase': droplet.KEY_PASSPHRASE,
        'dry-run': 'true'
      },
      { sha }
    )
    expect(withPass.code).toBe(0)
    expect(withPass.log).not.toContain(droplet.KEY_PASSPHRASE)
    const rsa = await runAction(
      { ...known, 'ssh-key': readFileSync(droplet.KEY_RSA_PATH, 'utf8') },
      { sha }
    )
    expect(rsa.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${sha}`)

    const wrong = await runAction(
      { ...known, 'ssh-key': readFileSync(droplet.KEY_WRONG_PATH, 'utf8') },
      { sha }
    )
    expect(wrong.code).not.toBe(0)
    expect(wrong.log).toMatch(
      /Authentication as core@127\.0\.0\.1:\d+ failed: the server refused every method tried \(publickey\)\. Check that the public key of `ssh-key` is in ~\/\.ssh\/authorized_keys/
    )
  })
})

/** Remove production so the supervisor respawns it from the current tag; returns the new ID. */
function restartProduction(): string {
  const old = runningContainers().find(c => c.name === droplet.CONTAINER)?.id
  docker(`rm -f ${droplet.CONTAINER}`)
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const now = runningContainers().find(c => c.name === droplet.CONTAINER)
    if (now && now.id !== old) return now.id
    sh('sleep 0.2')
  }
  throw new Error('the supervisor did not respawn production')
}
