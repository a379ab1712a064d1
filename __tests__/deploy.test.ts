import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { FakeShell, removal } from '../__fixtures__/fake-shell.js'
import { decideUpdate, findProduction } from '../src/decide.js'
import { deploy } from '../src/deploy.js'
import * as docker from '../src/docker.js'
import type { ContainerInfo } from '../src/docker.js'
import { imageRef, type Settings } from '../src/inputs.js'
import type { Progress } from '../src/state.js'

const OLD_IMAGE = 'sha256:' + 'a'.repeat(64)
const NEW_IMAGE = 'sha256:' + 'b'.repeat(64)
const PROD_ID = 'c'.repeat(64)
const NEW_PROD_ID = 'd'.repeat(64)
const OLD_COMMIT = '1'.repeat(40)
const NEW_COMMIT = '2'.repeat(40)
const CONFIG = {
  Entrypoint: ['/srv/app/start.sh'],
  Cmd: ['--port', '18080'],
  Env: ['PATH=/usr/bin', 'APP_ENV=production'],
  WorkingDir: '/srv/app'
}

const settings = (over: Partial<Settings> = {}): Settings => ({
  host: '127.0.0.1',
  hosts: [{ host: '127.0.0.1', port: 22 }],
  maxParallel: 1,
  port: 22,
  username: 'core',
  sshKey: 'key',
  strictHostKey: true,
  image: imageRef('texasca/api'),
  repoPath: '/srv/app',
  branch: 'master',
  ref: NEW_COMMIT,
  buildCommand: 'grunt build',
  healthCommand: 'curl -fsS http://127.0.0.1/',
  healthTimeoutSec: 5,
  respawnTimeoutSec: 5,
  commandTimeoutSec: 60,
  connectTimeoutSec: 5,
  lockTimeoutSec: 5,
  rollback: true,
  dryRun: false,
  paths: [],
  buildEnv: [],
  maxLayers: 100,
  keepReleases: 5,
  canarySeconds: 0,
  canaryTimeoutSec: 5,
  stableSeconds: 0,
  updateTimeoutSec: 30,
  force: false,
  ...over
})

const container = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    Id: PROD_ID,
    Name: '/texasca-api',
    Image: OLD_IMAGE,
    Created: '2026-11-01T00:00:00Z',
    State: { Running: true, Status: 'running' },
    Config: { Image: 'texasca/api', Env: [...CONFIG.Env, 'RUNTIME_SECRET=s3cret'], User: '' },
    HostConfig: { NetworkMode: 'host' },
    ...over
  })

const image = (id: string, config: object = CONFIG) =>
  JSON.stringify({ Id: id, Config: config, RootFS: { Layers: ['x', 'y'] } })

/** What the status-and-fetch command prints: local changes, then how the commit relates. */
const fetched = (relation: string, changed = '') => `#changed\n${changed}#relation\n${relation}`
const committed = (imageJson: string) => `${NEW_IMAGE}\n${imageJson}\ntexasca-api-admin\n`

/** A host where production runs OLD_IMAGE at OLD_COMMIT and everything succeeds. */
function healthyHost(): FakeShell {
  return (
    new FakeShell()
      .on('lock', { stdout: 'acquired\n' })
      .on(/docker image inspect/, { stdout: image(OLD_IMAGE) })
      .on('survey', { stdout: `#image\n${image(OLD_IMAGE)}\n#containers\n${container()}\n` })
      .on('currentCommit', { stdout: `${OLD_COMMIT}\n` })
      .on('fetchAndRelate', {
        stdout: fetched(
          `head=${OLD_COMMIT}\ntarget=${NEW_COMMIT}\nfast_forward=yes\nbehind=no\non_branch=yes\n`
        )
      })
      .on('fastForward', { stdout: `#log\n2222222 Add feature\n#stat\n app.js | 2 +-\n` })
      // tag, commit, inspect and rm of the admin container go in one round trip.
      .on(/docker commit/, { stdout: committed(image(NEW_IMAGE)) })
      .on('waitForContainer', script => ({
        // docker rm, run first in the same round trip, prints the ID it removed.
        stdout: `${script.includes('docker rm --force') ? `${PROD_ID}\n` : ''}${NEW_PROD_ID} texasca-api\n`
      }))
      .on(/\$1" 2>&1\) && ok=1/, { stdout: 'passed on attempt 1\n' })
      .on('retain', { stdout: 'before=1GB\nkept=222222222222\nafter=1GB\n' })
      .on(/hermes-deploy\/history/, {
        stdout: '{"time":"t","action":"deploy","result":"deployed","durationSec":3}\n'
      })
  )
}

const holder = { repository: 'texasca/api', commit: NEW_COMMIT, since: '2026-11-25T00:00:00Z' }

async function runDeploy(shell: FakeShell, over: Partial<Settings> = {}) {
  const runner = new FakeRunner()
  const phases: Progress[] = []
  const report = await deploy(settings(over), {
    runner,
    holder,
    connect: async () => shell,
    progress: p => phases.push(p)
  })
  return { report, runner, phases }
}

describe('the deploy procedure', () => {
  it('follows the runbook in order and reports the new release', async () => {
    const shell = healthyHost()
    const { report, runner } = await runDeploy(shell)

    expect(report.outcome).toBe('deployed')
    expect(report).toMatchObject({
      previousCommit: OLD_COMMIT,
      commit: NEW_COMMIT,
      previousImageId: OLD_IMAGE,
      imageId: NEW_IMAGE,
      containerId: NEW_PROD_ID,
      rolledBack: false,
      commits: ['2222222 Add feature']
    })
    const steps = [
      'lock',
      'survey',
      /docker run --detach --name texasca-api-admin --network host --entrypoint tail/,
      'fetchAndRelate',
      'fastForward',
      /docker exec .* texasca-api-admin sh -c 'grunt build'/,
      /docker commit/,
      /docker rm --force texasca-api-admin/,
      // The swap: the tag moves only here, in the command that stops production.
      /docker tag .* texasca\/api:hermes-previous/,
      new RegExp(`docker tag ${NEW_IMAGE} texasca/api:latest`),
      removal(PROD_ID),
      'waitForContainer',
      'health'
    ] as const
    const order = steps.map(p => shell.indexOf(p))
    expect(order.every(i => i >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(shell.closed).toBe(true)
    expect(runner.groups.slice(0, 2)).toEqual(['Connect', 'Take the deploy lock'])
    // The lock is held until the end: released, then the session closed.
    expect(shell.spawned[0].written.at(-1)).toBe('release\n')
  })

  it('restores the image ENTRYPOINT and CMD on commit instead of the keep-alive', async () => {
    const shell = healthyHost()
    await runDeploy(shell)
    const commit = shell.commands.find(c => c.includes('docker commit'))!
    expect(commit).toContain('ENTRYPOINT ["/srv/app/start.sh"]')
    expect(commit).toContain('CMD ["--port","18080"]')
    expect(commit.indexOf('ENTRYPOINT')).toBeLessThan(commit.indexOf('CMD'))
    // What a real shell receives: the change is one argument, exactly.
    const argv = execFileSync(
      'sh',
      ['-c', `set -- ${commit.replace(/^sh -c /, '')}; printf '%s' "$1"`],
      { encoding: 'utf8' }
    )
    expect(argv).toContain(
      `--change 'ENTRYPOINT ["/srv/app/start.sh"]' --change 'CMD ["--port","18080"]'`
    )
  })

  it('passes the supervisor’s own environment to the build on stdin, never on a command line', async () => {
    const shell = healthyHost()
    await runDeploy(shell)
    const build = shell.indexOf(/grunt build/)
    expect(shell.commands[build]).toContain('--env-file /dev/stdin')
    expect(shell.stdins[build]).toBe('RUNTIME_SECRET=s3cret\n')
    expect(shell.commands.join('\n')).not.toContain('s3cret')
  })

  it('stops on a failing build with production untouched and the admin container removed', async () => {
    const shell = healthyHost().on(/grunt build/, {
      code: 2,
      stdout: 'Warning: Task "build" failed\n'
    })
    const { report } = await runDeploy(shell)

    expect(report.outcome).toBe('failed')
    expect(report.failedStep).toBe('Build (grunt build)')
    expect(report.reason).toMatch(/exited with code 2; production is unchanged/)
    expect(shell.ran(/docker tag|docker commit/)).toBe(false)
    expect(shell.ran(removal(PROD_ID))).toBe(false)
    expect(shell.commands.at(-1)).toBe('docker rm --force texasca-api-admin')
  })

  it('refuses a checkout with local changes and names the files', async () => {
    const shell = healthyHost().on('fetchAndRelate', {
      stdout: fetched(
        `head=${OLD_COMMIT}\ntarget=${NEW_COMMIT}\nfast_forward=yes\nbehind=no\non_branch=yes\n`,
        ' M Gruntfile.js\n'
      )
    })
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('failed')
    expect(report.reason).toContain('M Gruntfile.js')
    expect(shell.ran('fastForward') || shell.ran(/grunt build|docker commit/)).toBe(false)
  })

  it('removes a stale admin container but never the production one', async () => {
    const stale = container({
      Id: 'e'.repeat(64),
      Name: '/texasca-api-admin',
      State: { Running: false, Status: 'exited' }
    })
    const shell = healthyHost().on('survey', {
      stdout: `#image\n${image(OLD_IMAGE)}\n#containers\n${container()}\n${stale}\n`
    })
    const { report, runner } = await runDeploy(shell)
    expect(report.outcome).toBe('deployed')
    expect(shell.ran(removal('e'.repeat(64)))).toBe(true)
    expect(runner.warnings.join()).toMatch(/left by an earlier run/)
  })

  it('removes its own admin container left with a build still running in it by a dead run', async () => {
    const orphan = container({
      Id: 'e'.repeat(64),
      Name: '/texasca-api-admin',
      ExecIDs: ['x1'],
      Path: 'tail',
      Args: ['-f', '/dev/null']
    })
    const shell = healthyHost().on('survey', {
      stdout: `#image\n${image(OLD_IMAGE)}\n#containers\n${container()}\n${orphan}\n`
    })
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('deployed')
    expect(shell.ran(removal('e'.repeat(64)))).toBe(true)
  })

  it('refuses an admin container name that is the production container', async () => {
    const shell = healthyHost()
    const { report } = await runDeploy(shell, { adminContainer: 'texasca-api' })
    expect(report.outcome).toBe('failed')
    expect(report.reason).toMatch(/is the production container; set `admin-container`/)
    expect(shell.ran(/docker rm|docker run/)).toBe(false)
  })

  it('rolls back when the health command fails after the swap', async () => {
    const shell = healthyHost()
      .on('health', { code: 1, stdout: 'curl: (7) Failed to connect\n' })
      .on('survey', (_s: string) => ({
        stdout: `#image\n${image(OLD_IMAGE)}\n#containers\n${container()}\n`
      }))
    // After the swap the survey shows the failed release; the wait for the old image finds it back.
    let surveys = 0
    shell.on('survey', () => {
      surveys += 1
      const running = surveys === 1 ? container() : container({ Id: NEW_PROD_ID, Image: NEW_IMAGE })
      return { stdout: `#image\n${image(OLD_IMAGE)}\n#containers\n${running}\n` }
    })
    shell.on('waitForContainer', script => ({
      stdout: script.includes(NEW_IMAGE)
        ? `${NEW_PROD_ID} texasca-api\n`
        : `${'f'.repeat(64)} texasca-api\n`
    }))
    let healthChecks = 0
    shell.on('health', () =>
      ++healthChecks === 1
        ? { code: 1, stdout: 'curl: (7) Failed to connect\n' }
        : { stdout: 'passed on attempt 2\n' }
    )

    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('rolled-back')
    expect(report.rolledBack).toBe(true)
    expect(report.containerId).toBe('f'.repeat(64))
    expect(report.reason).toMatch(/health command did not pass within 5 s.*\n.*Failed to connect/)
    const retag = shell.indexOf(new RegExp(`docker tag ${OLD_IMAGE} texasca/api:latest`))
    const removeFailed = shell.indexOf(removal(NEW_PROD_ID))
    expect(retag).toBeGreaterThan(shell.indexOf(/docker commit/))
    expect(removeFailed).toBeGreaterThan(retag)
  })

  it('leaves the failed release in place and says how to roll back when rollback is off', async () => {
    const shell = healthyHost().on('health', { code: 1, stdout: 'down\n' })
    const { report, runner } = await runDeploy(shell, { rollback: false })
    expect(report.outcome).toBe('failed')
    expect(report.rolledBack).toBe(false)
    expect(shell.ran(new RegExp(`docker tag ${OLD_IMAGE} texasca/api:latest`))).toBe(false)
    expect(runner.errors.join()).toMatch(
      /docker tag texasca\/api:hermes-previous texasca\/api:latest/
    )
  })

  it('says the supervisor may be down when no new container appears', async () => {
    const shell = healthyHost().on('waitForContainer', { code: 124 })
    const { report } = await runDeploy(shell, { rollback: false })
    expect(report.reason).toMatch(
      /No container of bbbbbbbbbbbb started within 5 s \(`respawn-timeout`\).*supervisor/
    )
  })

  it('removes the release and never moves the tag when the committed image config drifted', async () => {
    const shell = healthyHost().on(/docker commit/, {
      stdout: committed(image(NEW_IMAGE, { ...CONFIG, Cmd: ['-f', '/dev/null'] }))
    })
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('failed')
    expect(report.reason).toMatch(/changed the image config \(Cmd\)/)
    expect(shell.ran(new RegExp(`docker rmi ${NEW_IMAGE}`))).toBe(true)
    expect(shell.ran(/docker tag/)).toBe(false)
    expect(shell.ran(removal(PROD_ID))).toBe(false)
  })

  it('commits the release untagged and never moves the tag when the canary fails', async () => {
    // The canary starts, then exits during its watch.
    const shell = healthyHost().on('watchCanary', { code: 1, stdout: 'exited=1\n' })
    const { report } = await runDeploy(shell, { canarySeconds: 1 })
    expect(report.outcome).toBe('failed')
    expect(report.reason).toMatch(/canary of bbbbbbbbbbbb failed; production is untouched/)
    const commit = shell.commands.find(c => c.includes('docker commit'))!
    expect(commit).not.toMatch(/texasca\/api:latest/)
    expect(shell.ran(/docker tag/)).toBe(false)
    expect(shell.ran(removal(PROD_ID))).toBe(false)
  })

  it('does nothing when production already runs the commit', async () => {
    const shell = healthyHost().on('fetchAndRelate', {
      stdout: fetched(
        `head=${NEW_COMMIT}\ntarget=${NEW_COMMIT}\nfast_forward=yes\nbehind=yes\non_branch=yes\n`
      )
    })
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('unchanged')
    expect(shell.ran(/grunt build|docker commit/)).toBe(false)
  })

  it('changes nothing in a dry run', async () => {
    const shell = healthyHost().on('remoteTip', { stdout: `${NEW_COMMIT}\trefs/heads/master\n` })
    const { report } = await runDeploy(shell, { dryRun: true })
    expect(report.outcome).toBe('dry-run')
    expect(report.plan?.length).toBeGreaterThan(4)
    expect(shell.ran(/docker (run|rm|tag|commit)|fetch|merge/)).toBe(false)
  })

  it('lists the other hosts of a rollout in a dry run', async () => {
    const shell = healthyHost().on('remoteTip', { stdout: `${NEW_COMMIT}\trefs/heads/master\n` })
    const hosts = [
      { host: '10.0.0.1', port: 22 },
      { host: '10.0.0.2', port: 2222 },
      { host: '10.0.0.3', port: 22 }
    ]
    const { report } = await runDeploy(shell, { dryRun: true, hosts, maxParallel: 2 })
    expect(report.plan?.at(-1)).toMatch(
      /^then, 2 at a time, on 10\.0\.0\.2:2222, 10\.0\.0\.3:22: take the lock, docker save \| docker load/
    )
  })

  it('names the connect step when the connection fails', async () => {
    const runner = new FakeRunner()
    const report = await deploy(settings(), {
      runner,
      holder,
      connect: async () => {
        throw new Error('Could not reach core@127.0.0.1:22: connect ECONNREFUSED')
      }
    })
    expect(report).toMatchObject({ outcome: 'failed', failedStep: 'Connect' })
    expect(report.reason).toMatch(/ECONNREFUSED/)
  })

  it('waits for a deploy lock held by another run, then fails naming the holder', async () => {
    const shell = healthyHost().on('lock', {
      code: 75,
      stdout:
        'waiting {"repository":"texasca/api","run":"https://github.com/texasca/api/actions/runs/7","commit":"abc","since":"2026-11-25T10:00:00Z"}\ntimeout {"repository":"texasca/api","run":"https://github.com/texasca/api/actions/runs/7","commit":"abc","since":"2026-11-25T10:00:00Z"}\n'
    })
    const { report, runner } = await runDeploy(shell)
    expect(report).toMatchObject({ outcome: 'failed', failedStep: 'Take the deploy lock' })
    expect(runner.log.join('\n')).toMatch(
      /Waiting for the deploy lock, held by texasca\/api https:\/\/github.com\/texasca\/api\/actions\/runs\/7 \(commit abc\) since 2026-11-25T10:00:00Z/
    )
    expect(report.reason).toMatch(/holds the lock on the host.*Waited 5 s \(`lock-timeout`\)/)
    expect(shell.commands).toHaveLength(1)
  })

  it('says so when it takes over the lock of a run that is gone', async () => {
    const shell = healthyHost().on('lock', {
      stdout:
        'takeover its process has ended: {"commit":"abc","since":"2026-11-25T10:00:00Z"}\nacquired\n'
    })
    const { report, runner } = await runDeploy(shell)
    expect(report.outcome).toBe('deployed')
    expect(runner.warnings.join()).toMatch(
      /Took over a deploy lock left by a run that is gone: its process has ended; it was held by a deploy \(commit abc\)/
    )
  })

  it('records its progress for the post step, and ends done', async () => {
    const { phases } = await runDeploy(healthyHost())
    expect(phases.map(p => p.phase)).toEqual([
      'started',
      'admin',
      'releasing',
      'releasing',
      'done',
      'done'
    ])
    expect(phases[3]).toMatchObject({
      previousImageId: OLD_IMAGE,
      releasedImageId: NEW_IMAGE,
      adminContainer: 'texasca-api-admin'
    })
  })

  it('leaves the post step to finish a rollback when the connection drops after the commit', async () => {
    const shell = healthyHost().on('waitForContainer', () => {
      throw new Error(
        'The SSH connection to core@127.0.0.1:22 was lost while running wait for the new container.'
      )
    })
    const { report, phases } = await runDeploy(shell)
    expect(report).toMatchObject({ outcome: 'failed', failedStep: 'Replace production' })
    expect(phases.at(-1)?.phase).toBe('releasing')
  })

  it('does not touch an admin container someone is working in', async () => {
    const busy = container({
      Id: 'e'.repeat(64),
      Name: '/texasca-api-admin',
      ExecIDs: ['x1'],
      Path: 'bash',
      Args: []
    })
    const shell = healthyHost().on('survey', {
      stdout: `#image\n${image(OLD_IMAGE)}\n#containers\n${container()}\n${busy}\n`
    })
    const { report } = await runDeploy(shell)
    expect(report.reason).toMatch(
      /Someone is working in texasca-api-admin: it has 1 open `docker exec` session/
    )
    expect(shell.ran(/docker rm|docker run/)).toBe(false)
  })

  it('deploys nothing, without failing, when production already contains the commit', async () => {
    const shell = healthyHost().on('fetchAndRelate', {
      stdout: fetched(
        `head=${NEW_COMMIT}\ntarget=${OLD_COMMIT}\nfast_forward=no\nbehind=yes\non_branch=yes\n`
      )
    })
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('unchanged')
    expect(report.reason).toMatch(/already contains 111111111111/)
    expect(shell.ran(/grunt build/)).toBe(false)
  })
})

describe('finding the production container', () => {
  const info = (name: string, over: Partial<ContainerInfo> = {}): ContainerInfo => ({
    id: name.padEnd(64, '0'),
    name,
    imageId: OLD_IMAGE,
    imageName: 'texasca/api',
    running: true,
    status: 'running',
    created: '',
    networkMode: 'host',
    env: [],
    user: '',
    execIds: [],
    process: [],
    cmd: null,
    binds: [],
    portBindings: {},
    restartPolicy: '',
    autoRemove: false,
    init: false,
    labels: {},
    ...over
  })

  it('ignores an admin copy of production', () => {
    const found = findProduction(settings(), [info('texasca-api-admin'), info('texasca-api')])
    expect(found.name).toBe('texasca-api')
  })

  it('lists what runs when no container runs the image', () => {
    expect(() =>
      findProduction(settings(), [info('redis', { imageName: 'redis:7', imageId: 'sha256:9' })])
    ).toThrow(
      /No running container runs texasca\/api:latest\. Running now:\n {2}CONTAINER ID .*\n {2}redis0000000 +redis:7 +running +redis/
    )
  })

  it('finds a Swarm task running the image from a registry, one of its replicas', () => {
    const task = (name: string) =>
      info(name, {
        imageName: '127.0.0.1:5000/texasca/api:abc@sha256:' + 'e'.repeat(64),
        imageId: 'sha256:' + 'e'.repeat(64),
        labels: { 'com.docker.swarm.service.name': 'texasca-api' }
      })
    const found = findProduction(settings(), [
      info('redis', { imageName: 'redis:7', imageId: 'sha256:9' }),
      task('texasca-api.1.x1'),
      task('texasca-api.2.x2')
    ])
    expect(found.name).toBe('texasca-api.1.x1')
    // A plain container of another registry's image of that name is not taken for it.
    expect(() =>
      findProduction(settings(), [info('other', { imageName: 'ghcr.io/texasca/api:1' })])
    ).toThrow(/No running container runs texasca\/api:latest/)
  })

  it('asks for `container` when several run the image', () => {
    expect(() => findProduction(settings(), [info('api-1'), info('api-2')])).toThrow(
      /2 running containers.*\n[\s\S]*Name the production one with `container`/
    )
  })
})

describe('deciding the update', () => {
  const relation = {
    head: OLD_COMMIT,
    target: NEW_COMMIT,
    fastForward: true,
    behind: false,
    onBranch: true
  }
  it.each([
    [{ target: '' }, /was not found in origin\/master/],
    [{ onBranch: false }, /is not on origin\/master/],
    [{ fastForward: false }, /has diverged from origin\/master/]
  ])('refuses %p', (over, pattern) => {
    const decision = decideUpdate(settings(), { changed: '', ...relation, ...over })
    expect(decision.kind).toBe('refuse')
    expect(decision.kind === 'refuse' && decision.message).toMatch(pattern)
  })

  it('releases the commit production runs again only with `force`', () => {
    const same = { changed: '', ...relation, head: NEW_COMMIT }
    expect(decideUpdate(settings(), same)).toMatchObject({
      kind: 'unchanged',
      message: expect.stringMatching(/Set `force: true` to build and release it again/)
    })
    expect(decideUpdate(settings({ force: true }), same)).toEqual({ kind: 'update' })
    // Never backwards: an older commit is still refused as contained, force or not.
    const older = { ...relation, behind: true, fastForward: false, changed: '' }
    expect(decideUpdate(settings({ force: true }), older).kind).toBe('unchanged')
  })
})

// Under a real sh, with a `docker` whose container is gone (or not) when `rm` fails.
describe('removing a container that may have gone by itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-rm-'))
  writeFileSync(
    join(dir, 'docker'),
    '#!/bin/sh\ncase "$1" in rm) exit 1 ;; container) [ "$STILL_THERE" = yes ] ;; esac\n',
    { mode: 0o755 }
  )
  const run = (stillThere: string) => {
    const [cmd, ...args] = docker.removeIfPresent('c'.repeat(64))
    return spawnSync(cmd, args, {
      env: { PATH: `${dir}:${process.env.PATH}`, STILL_THERE: stillThere }
    }).status
  }

  it('succeeds when it is gone, and fails only when it is still there', () => {
    expect(run('no')).toBe(0)
    expect(run('yes')).toBe(1)
  })
})
