import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { FakeShell } from '../__fixtures__/fake-shell.js'
import { deploy } from '../src/deploy.js'
import { imageRef, type Settings } from '../src/inputs.js'
import { recover } from '../src/post.js'
import type { Command } from '../src/shell.js'
import {
  parseUpdate,
  readOutcome,
  registryOf,
  rollbackService,
  swarmRepository,
  updateService,
  waitForUpdate
} from '../src/swarm.js'

describe('where a Swarm release is pushed', () => {
  const settings = (registry?: string) => ({ registry, image: imageRef('texasca/api') })

  it('is `registry`/`image`, or the repository the service runs now', () => {
    expect(swarmRepository(settings('127.0.0.1:5000'), 'ignored')).toBe(
      '127.0.0.1:5000/texasca/api'
    )
    expect(swarmRepository(settings('ghcr.io/texasca'), '')).toBe('ghcr.io/texasca/texasca/api')
    expect(
      swarmRepository({ registry: 'ghcr.io', image: imageRef('ghcr.io/texasca/api') }, '')
    ).toBe('ghcr.io/texasca/api')
    expect(
      swarmRepository(settings(), '127.0.0.1:5000/texasca/api:baseline@sha256:' + 'e'.repeat(64))
    ).toBe('127.0.0.1:5000/texasca/api')
    expect(swarmRepository(settings(), 'localhost:5000/api')).toBe('localhost:5000/api')
    expect(swarmRepository(settings(), 'texasca/api:1.2')).toBe('texasca/api')
  })

  it('logs in to the registry the repository names', () => {
    expect(registryOf('127.0.0.1:5000/texasca/api')).toBe('127.0.0.1:5000')
    expect(registryOf('ghcr.io/texasca/api')).toBe('ghcr.io')
    expect(registryOf('localhost/api')).toBe('localhost')
    expect(registryOf('texasca/api')).toBe('docker.io')
  })
})

describe("reading Swarm's word on an update", () => {
  const output = (state: string, extra = '') =>
    `state=${state}\ntimedout=0\nmessage=update rolled back due to failure or early termination of task x1\nimage=reg/api:2@sha256:b\n` +
    `task=api.1|reg/api:1@sha256:a|Running|Running 3 seconds ago|\ntask=api.1|reg/api:2@sha256:b|Shutdown|Failed 9 seconds ago|"task: non-zero exit (3)"\n${extra}`

  it('converged, rolled back by Swarm (with the failed task), paused, or out of time', () => {
    expect(readOutcome(parseUpdate(output('completed')), 60)).toEqual({ kind: 'converged' })
    const back = readOutcome(parseUpdate(output('rollback_completed')), 60)
    expect(back).toEqual({
      kind: 'rolled-back',
      why: 'Swarm rolled the update back. Swarm says: update rolled back due to failure or early termination of task x1. Task api.1: Failed 9 seconds ago: task: non-zero exit (3)'
    })
    expect(readOutcome(parseUpdate(output('paused')), 60)).toMatchObject({
      kind: 'stuck',
      why: expect.stringMatching(/^Swarm paused the update \(`rollback: false`/)
    })
    const late = parseUpdate(output('updating').replace('timedout=0', 'timedout=1'))
    expect(readOutcome(late, 60)).toMatchObject({
      kind: 'stuck',
      why: expect.stringMatching(/did not finish within 60 s \(`update-timeout`\); it was updating/)
    })
  })
})

// The scripts run here under a real sh, as on the host, with a `docker` that plays Swarm.
describe('the Swarm scripts under a real sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-swarm-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const FAKE_DOCKER = `#!/bin/sh
echo "$*" >>"$STATE/calls"
case "$1 $2" in
  "service inspect")
    case "$4" in
      *UpdateStatus.State*)
        # One status per call, the last one repeated.
        n=$(cat "$STATE/n" 2>/dev/null || echo 1)
        line=$(sed -n "\${n}p" "$STATE/statuses")
        [ -n "$line" ] || line=$(tail -n 1 "$STATE/statuses")
        echo $((n + 1)) >"$STATE/n"
        echo "$line" ;;
      message=*) echo "message=done" ;;
      image=*) echo "image=reg/api:2@sha256:b" ;;
      *) echo "T0" ;;
    esac ;;
  "service ps")
    case "$*" in
      *desired-state=running*)
        n=$(cat "$STATE/ps" 2>/dev/null || echo 1)
        echo $((n + 1)) >"$STATE/ps"
        if [ "$n" -lt 3 ]; then echo "Starting 1 second ago"; else echo "Running 1 second ago"; fi ;;
      *) echo "task=api.1|reg/api:2@sha256:b|Running|Running 1 second ago|" ;;
    esac ;;
  "service update") if [ -n "$DOCKER_CONFIG" ]; then echo "config=$DOCKER_CONFIG" >>"$STATE/calls"; fi ;;
  "login --username") cat >"$STATE/password"; echo "login-config=$DOCKER_CONFIG" >>"$STATE/calls" ;;
  "push 127.0.0.1:5000/texasca/api:222222222222") echo "layer: Pushed"; echo "222222222222: digest: sha256:feed size: 738" ;;
  "image inspect") printf '%s\\n' "$(cat "$STATE/digests")" ;;
  *) echo "unexpected: docker $*" >&2; exit 9 ;;
esac
`
  writeFileSync(join(dir, 'docker'), FAKE_DOCKER)
  chmodSync(join(dir, 'docker'), 0o755)

  function run(command: Command, files: Record<string, string>, stdin = '') {
    const state = mkdtempSync(join(dir, 'state-'))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(state, name), text)
    const [cmd, ...args] = command
    // In the state directory: a command that ran where it should not leaves its files there.
    const result = spawnSync(cmd, args, {
      cwd: state,
      input: stdin,
      encoding: 'utf8',
      env: { PATH: `${dir}:${process.env.PATH}`, STATE: state }
    })
    const calls = existsSync(join(state, 'calls')) ? readFileSync(join(state, 'calls'), 'utf8') : ''
    return { ...result, calls, state }
  }

  it('waits past the status of the update before ours, until ours ends', () => {
    const result = run(waitForUpdate('api', 'T0', 30), {
      statuses:
        'completed|T0\ncompleted|T0\nupdating|T1\nrollback_started|T1\nrollback_completed|T1\n'
    })
    expect(result.status).toBe(0)
    const status = parseUpdate(result.stdout)
    expect(status).toMatchObject({
      state: 'rollback_completed',
      timedOut: false,
      message: 'done',
      running: '1/1'
    })
    expect(status.tasks).toHaveLength(1)
    expect(result.calls.match(/UpdateStatus.State/g)).toHaveLength(5)
    // Then until the task runs: twice starting, then running.
    expect(result.calls.match(/desired-state=running/g)).toHaveLength(3)
  })

  it('asks Swarm to roll back, printing when the update before it started', () => {
    const result = run(rollbackService('api'), {})
    expect(result.status).toBe(0)
    expect(result.stdout).toBe('before=T0\n')
    expect(result.calls).toMatch(/^service update --detach --quiet --rollback api$/m)
  })

  it('gives up at the timeout and says what state it saw', () => {
    const result = run(waitForUpdate('api', 'T0', 1), { statuses: 'updating|T1\n' })
    expect(parseUpdate(result.stdout)).toMatchObject({ state: 'updating', timedOut: true })
  })

  const update = (over: Partial<Parameters<typeof updateService>[0]> = {}) =>
    updateService({
      service: 'texasca-api',
      ref: '127.0.0.1:5000/texasca/api:222222222222',
      repository: '127.0.0.1:5000/texasca/api',
      registry: '127.0.0.1:5000',
      username: 'deployer',
      push: true,
      rollback: true,
      ...over
    })

  it('logs in for this run only, pushes, and points the service at the pushed digest', () => {
    const digests =
      'other.example/texasca/api@sha256:0000\n127.0.0.1:5000/texasca/api@sha256:feed\n'
    const result = run(update(), { digests }, "s3cret 'pass\n")
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    expect(readFileSync(join(result.state, 'password'), 'utf8')).toBe("s3cret 'pass\n")
    expect(result.stdout).toContain('image=127.0.0.1:5000/texasca/api:222222222222@sha256:feed')
    expect(result.stdout).toContain('before=T0')
    expect(result.calls).toMatch(
      /^service update --detach --quiet --with-registry-auth --update-failure-action rollback --image 127\.0\.0\.1:5000\/texasca\/api:222222222222@sha256:feed texasca-api$/m
    )
    // The login's config directory is a temporary one, and it is gone afterwards.
    const config = /^login-config=(.+)$/m.exec(result.calls)![1]
    expect(result.calls).toContain(`config=${config}`)
    expect(config).not.toMatch(/\.docker$/)
    expect(existsSync(config)).toBe(false)
  })

  it('without a login uses the host user’s docker config, and pauses when rollback is off', () => {
    const digests = '127.0.0.1:5000/texasca/api@sha256:feed\n'
    const result = run(update({ username: undefined, push: false, rollback: false }), { digests })
    expect(result.status).toBe(0)
    expect(result.calls).not.toMatch(/login|push|config=/)
    expect(result.calls).toContain('--update-failure-action pause')
  })

  it('stops with the push error when the push fails, before touching the service', () => {
    const result = run(update({ ref: '127.0.0.1:5000/texasca/api:333333333333' }), {
      digests: '127.0.0.1:5000/texasca/api@sha256:feed\n'
    })
    expect(result.status).toBe(4)
    expect(result.stderr).toContain(
      'unexpected: docker push 127.0.0.1:5000/texasca/api:333333333333'
    )
    expect(result.calls).not.toContain('service update')
  })

  it('refuses an image that is not in the registry, before touching the service', () => {
    const result = run(update({ push: false }), { digests: 'other.example/api@sha256:0\n' })
    expect(result.status).toBe(3)
    expect(result.stderr).toMatch(/has no digest in 127\.0\.0\.1:5000\/texasca\/api/)
    expect(result.calls).not.toContain('service update')
  })

  it('passes every value as data', () => {
    // The service name reaches docker as one argument, never as shell code.
    const result = run(update({ service: 'x; touch pwned', push: false, username: undefined }), {
      digests: '127.0.0.1:5000/texasca/api@sha256:feed\n'
    })
    expect(result.status).toBe(0)
    expect(result.calls).toMatch(/--image \S+ x; touch pwned$/m)
    // Had the shell run `touch pwned`, the file would be in the directory the command ran in.
    expect(existsSync(join(result.state, 'pwned'))).toBe(false)
    expect(execFileSync('ls', ['-A', result.state], { encoding: 'utf8' })).not.toContain('pwned')
  })
})

// The deploy procedure with production as a Swarm service, against a fake remote shell.
describe('deploying to a Swarm service', () => {
  /** `docker service rollback` of texasca-api, as the host receives it. */
  const ROLLBACK =
    /docker service update --detach --quiet --rollback "\$service"[\s\S]*' sh texasca-api$/
  const OLD = 'sha256:' + 'a'.repeat(64)
  const NEW = 'sha256:' + 'b'.repeat(64)
  const OLD_COMMIT = '1'.repeat(40)
  const NEW_COMMIT = '2'.repeat(40)
  const CONFIG = { Entrypoint: ['/srv/app/start.sh'], Cmd: ['--port', '8080'], Env: ['A=1'] }
  const RUNNING = '127.0.0.1:5000/texasca/api:baseline@sha256:' + 'e'.repeat(64)
  const task = (id: string, image: string) =>
    JSON.stringify({
      Id: id.repeat(64),
      Name: '/texasca-api.1.x1',
      Image: image,
      State: { Running: true, Status: 'running' },
      Config: {
        Image: RUNNING,
        Env: ['A=1', 'RUNTIME_SECRET=s'],
        Labels: { 'com.docker.swarm.service.name': 'texasca-api' }
      },
      HostConfig: { NetworkMode: 'host' }
    })
  const image = (id: string) =>
    JSON.stringify({ Id: id, Config: CONFIG, RootFS: { Layers: ['x'] } })
  const settings = (over: Partial<Settings> = {}): Settings =>
    ({
      host: '127.0.0.1',
      hosts: [{ host: '127.0.0.1', port: 22 }],
      image: imageRef('texasca/api'),
      container: 'texasca-api',
      repoPath: '/srv/app',
      branch: 'master',
      ref: NEW_COMMIT,
      buildCommand: 'true',
      buildEnv: [],
      paths: [],
      rollback: true,
      lockTimeoutSec: 5,
      commandTimeoutSec: 60,
      healthTimeoutSec: 5,
      respawnTimeoutSec: 5,
      maxLayers: 100,
      keepReleases: 5,
      canarySeconds: 0,
      canaryTimeoutSec: 5,
      stableSeconds: 0,
      updateTimeoutSec: 30,
      registryUsername: 'deployer',
      registryPassword: 'pw',
      ...over
    }) as Settings

  function swarmHost(finalState: string): FakeShell {
    let surveys = 0
    return new FakeShell()
      .on('lock', { stdout: 'acquired\n' })
      .on(/docker image inspect/, { stdout: image(OLD) })
      .on('survey', () => ({
        // Swarm runs the service by digest: the node has no texasca/api:latest.
        stdout: `#inspect\n${surveys++ === 0 ? task('c', OLD) : task('d', NEW)}\n`
      }))
      .on('currentCommit', { stdout: `${OLD_COMMIT}\n` })
      .on('fetchAndRelate', {
        stdout: `#changed\n#relation\nhead=${OLD_COMMIT}\ntarget=${NEW_COMMIT}\nfast_forward=yes\nbehind=no\non_branch=yes\n`
      })
      .on('fastForward', { stdout: '#log\n2222222 Feature\n#stat\n' })
      .on(/docker commit/, { stdout: `${NEW}\n${image(NEW)}\ntexasca-api-admin\n` })
      .on(/docker service update --detach --quiet --with-registry-auth/, {
        stdout: `digest: sha256:f size: 1\nimage=127.0.0.1:5000/texasca/api:222222222222@sha256:f\nbefore=\n`
      })
      .on('waitForUpdate', {
        stdout: `state=${finalState}\ntimedout=0\nmessage=${finalState === 'completed' ? 'update completed' : 'update rolled back due to failure or early termination of task t2'}\nimage=127.0.0.1:5000/texasca/api:222222222222@sha256:f\ntask=texasca-api.1|x|Shutdown|Failed 2 seconds ago|task: non-zero exit (3)\n`
      })
      .on('retain', { stdout: 'before=1GB\nkept=222222222222\nafter=1GB\n' })
  }

  async function run(shell: FakeShell, over: Partial<Settings> = {}) {
    const runner = new FakeRunner()
    const report = await deploy(settings(over), {
      runner,
      holder: { commit: NEW_COMMIT, since: 'now' },
      connect: async () => shell
    })
    return { report, runner }
  }

  it('commits to the registry, pushes, and hands the rollout to Swarm', async () => {
    const shell = swarmHost('completed')
    const { report } = await run(shell)

    expect(report.reason).toBeUndefined()
    expect(report.outcome).toBe('deployed')
    expect(report.swarm).toMatchObject({ service: 'texasca-api', state: 'completed' })
    expect(report.containerId).toBe('d'.repeat(64))
    const ran = shell.commands.join('\n')
    // The admin container is named after the service, not after one of its tasks.
    expect(ran).toContain('docker run --detach --name texasca-api-admin')
    // The image's ENTRYPOINT and CMD restored, committed under the release's registry tag.
    expect(ran).toMatch(
      /docker commit --change [^\n]*ENTRYPOINT [^\n]*CMD [^\n]*texasca-api-admin 127\.0\.0\.1:5000\/texasca\/api:222222222222/
    )
    expect(ran).toMatch(/docker tag \S+ 127\.0\.0\.1:5000\/texasca\/api:hermes-previous/)
    // Swarm replaces the task: the action never removes a production container itself.
    expect(ran).not.toMatch(new RegExp(`docker rm --force ${'c'.repeat(64)}`))
    expect(ran).not.toMatch(/docker tag \S+ texasca\/api:latest/)
    const updateAt = shell.commands.findIndex(c => c.includes('--with-registry-auth'))
    expect(shell.stdins[updateAt]).toBe('pw\n')
    expect(shell.commands[updateAt]).toMatch(
      / texasca-api 127\.0\.0\.1:5000\/texasca\/api:222222222222 127\.0\.0\.1:5000\/texasca\/api 127\.0\.0\.1:5000 deployer yes rollback ''$/
    )
  })

  it('reports the rollback when Swarm rolls the update back', async () => {
    const { report } = await run(swarmHost('rollback_completed'))

    expect(report.outcome).toBe('rolled-back')
    expect(report.rolledBack).toBe(true)
    expect(report.failedStep).toBe('Update the Swarm service texasca-api')
    expect(report.reason).toMatch(
      /Swarm rolled the update back\. Swarm says: update rolled back due to failure .* Task texasca-api\.1: Failed 2 seconds ago: task: non-zero exit \(3\)/
    )
    expect(report.rollbackDetail).toMatch(/The service is back on aaaaaaaaaaaa \(commit 1{40}\)/)
  })

  it('asks Swarm to roll back when the health command fails after it converged', async () => {
    const shell = swarmHost('completed')
      .on('health', { code: 1, stdout: 'connection refused\n' })
      .on(ROLLBACK, { stdout: '' })
    let waits = 0
    shell.on('waitForUpdate', () => ({
      stdout: `state=${waits++ === 0 ? 'completed' : 'rollback_completed'}\ntimedout=0\nmessage=\nimage=x\n`
    }))
    const { report } = await run(shell, { healthCommand: 'curl -f http://127.0.0.1/' })

    expect(report.outcome).toBe('rolled-back')
    expect(shell.ran(ROLLBACK)).toBe(true)
    expect(report.reason).toMatch(/Swarm converged, but the health command did not pass/)
  })

  it('past update-timeout asks Swarm to roll back, but never undoes a rollback of its own', async () => {
    const late = (state: string) =>
      swarmHost('completed').on('waitForUpdate', {
        stdout: `state=${state}\ntimedout=1\nrunning=0/1\nmessage=\nimage=x\n`
      })
    const updating = late('updating')
    const first = await run(updating)
    expect(updating.ran(ROLLBACK)).toBe(true)
    expect(first.report.reason).toMatch(
      /did not finish within 30 s .* it was updating, 0\/1 tasks running/
    )

    const rollingBack = late('rollback_started')
    const second = await run(rollingBack)
    expect(rollingBack.ran(ROLLBACK)).toBe(false)
    expect(second.report.outcome).toBe('failed')
    expect(second.report.reason).toMatch(
      /it was rollback_started[\s\S]*docker service ps texasca-api/
    )
  })

  it('finds the service from the task label when `container` names it, and refuses several hosts', async () => {
    const { report } = await run(swarmHost('completed'), {
      hosts: [
        { host: '127.0.0.1', port: 22 },
        { host: '127.0.0.2', port: 22 }
      ]
    })
    expect(report.outcome).toBe('failed')
    expect(report.reason).toMatch(
      /Production is the Swarm service texasca-api, .* list one manager node/
    )
  })

  it('leaves a cancelled Swarm update to Swarm in the post step', async () => {
    const shell = new FakeShell()
      .on('lock', { stdout: 'acquired\n' })
      .on('survey', { stdout: `#inspect\n${task('d', NEW)}\n` })
      .on(/docker service inspect/, { stdout: 'updating:  (image x)\n' })
    const runner = new FakeRunner()
    await recover(
      settings(),
      { phase: 'releasing', previousImageId: OLD, releasedImageId: NEW, service: 'texasca-api' },
      { runner, holder: { commit: NEW_COMMIT, since: 'now' }, connect: async () => shell }
    )
    expect(shell.ran(/docker tag|docker rm/)).toBe(false)
    expect(runner.warnings.join('\n')).toMatch(
      /Swarm finishes or rolls back its update by itself\. Its update status: updating/
    )
  })
})
