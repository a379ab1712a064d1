import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { FakeShell, removal, scriptsIn } from '../__fixtures__/fake-shell.js'
import { decideUpdate, findProduction } from '../src/decide.js'
import { deploy } from '../src/deploy.js'
import * as docker from '../src/docker.js'
import type { ContainerInfo } from '../src/docker.js'
import { imageRef, type Settings } from '../src/inputs.js'
import type { Progress } from '../src/state.js'
import * as remote from '../src/remote/scripts.js'
import { renderSummary } from '../src/summary.js'

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

/** The command of an `after <base64>` line sent to the lock's holder. */
const decode = (line: string) => Buffer.from(line.slice(6).trim(), 'base64').toString()

/** The commands handed to the lock's holder to run after the job, in order. */
const afterWork = (shell: FakeShell) =>
  shell.spawned
    .find(p => p.script.includes('hermes-heartbeat'))!
    .written.filter(line => line.startsWith('after '))
    .map(decode)

/** What fast-forward.sh prints. */
const FAST_FORWARDED = `#log\n2222222 Add feature\n#stat\n app.js | 2 +-\n`

/** A host where production runs OLD_IMAGE at OLD_COMMIT and everything succeeds. */
function healthyHost(): FakeShell {
  return (
    new FakeShell()
      .on('lock', { stdout: 'acquired\n' })
      .on(/docker image inspect/, { stdout: image(OLD_IMAGE) })
      .on('survey', { stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n` })
      .on('currentCommit', { stdout: `${OLD_COMMIT}\n` })
      // Given fast-forward.sh, the check runs it in the same round trip (after `#update`).
      .on('fetchAndRelate', script => ({
        stdout:
          fetched(
            `head=${OLD_COMMIT}\ntarget=${NEW_COMMIT}\nfast_forward=yes\nbehind=no\non_branch=yes\n`
          ) + (script.includes('merge --ff-only') ? `#update\n${FAST_FORWARDED}` : '')
      }))
      .on('fastForward', { stdout: FAST_FORWARDED })
      // tag, commit, inspect and rm of the admin container go in one round trip.
      .on(/docker commit/, { stdout: committed(image(NEW_IMAGE)) })
      .on('waitForContainer', script => ({
        // docker rm, run first in the same round trip, prints the ID it removed.
        stdout: `${script.includes('docker rm --force') ? `${PROD_ID}\n` : ''}${NEW_PROD_ID} texasca-api\n`
      }))
      .on(/\$1" 2>&1\) && ok=1/, { stdout: 'passed on attempt 1\n' })
      .on('retain', { stdout: 'before=1GB\nkept=222222222222\nafter=1GB\n' })
      .on('appendHistory', {
        stdout: '{"time":"t","action":"deploy","result":"deployed","durationSec":3}\n'
      })
  )
}

/** The arguments of with-env.sh in a command in the admin container. */
function withEnvArgs(argv: readonly string[]): string[] {
  const at = argv.findIndex((word, i) => word === remote.withEnv && argv[i - 1] === '-c')
  expect(at).toBeGreaterThan(0)
  return argv.slice(at + 2)
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
  it('leaves retention to the host after the lock is released, never on the way to success', async () => {
    const shell = healthyHost()
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('deployed')
    // No retention round trip during the run: it is handed to the lock's holder on the host.
    expect(shell.ran('retain')).toBe(false)
    const written = shell.spawned.find(p => p.script.includes('hermes-heartbeat'))!.written
    const after = written.find(line => line.startsWith('after ') && decode(line).includes('kept='))!
    const command = decode(after)
    expect(command).toContain('kept=$tag')
    expect(command).toContain(`texasca/api 5 ${NEW_IMAGE} 222222222222 ${NEW_IMAGE} ${OLD_IMAGE}`)
    expect(written.indexOf(after)).toBeLessThan(written.indexOf('release\n'))
    expect(report.retentionAfter).toEqual({ keep: 5, tag: 'texasca/api:222222222222' })
  })

  it("reads production's commit in the admin container made from its image: no docker exec into production, the compare after the check", async () => {
    let surveyed = ''
    const shell = healthyHost().on('survey', script => {
      surveyed = script
      return { stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n` }
    })
    const { report, runner } = await runDeploy(shell)
    expect(report.outcome).toBe('deployed')
    // The survey is given no repo-path to read a commit at; nothing else reads it in production.
    expect(surveyed).toMatch(/ texasca\/api:latest texasca\/api '' '' /)
    expect(shell.ran('currentCommit')).toBe(false)
    // The check's HEAD, in the admin container: production's image.
    expect(report.previousCommit).toBe(OLD_COMMIT)
    const names = report.steps.map(step => step.name)
    expect(names.slice(names.indexOf('Create the admin container'))).toEqual([
      'Create the admin container',
      'Check the checkout for local changes',
      `Compare ${OLD_COMMIT.slice(0, 12)}..${NEW_COMMIT.slice(0, 12)}`,
      expect.stringMatching(/^Update to /),
      'Build (grunt build)',
      'Commit the release image',
      'Replace production',
      'Retain releases'
    ])
    expect(runner.log.join('\n')).toMatch(/its commit read in the admin container made from it/)
  })

  it("with `paths`, reads what runs, production's commit and the history in the lock's round trip, compares before the admin container, and writes the history after", async () => {
    const head = Buffer.from(`${OLD_COMMIT}`).toString('base64')
    const shown = '{"time":"t0","action":"deploy","result":"deployed","durationSec":4}\n'
    let surveyed = ''
    const shell = healthyHost()
      .on('survey', script => {
        surveyed = script
        return {
          stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n#heads\n${PROD_ID} 0 ${head}\n#history\n${shown}`
        }
      })
      .on('filesBetween', { stdout: 'app.js\n' })
    const { report } = await runDeploy(shell, { paths: ['app.js'] })
    expect(report.outcome).toBe('deployed')
    expect(surveyed).toMatch(/ texasca\/api:latest texasca\/api \/srv\/app '' /)
    expect(report.previousCommit).toBe(OLD_COMMIT)
    const names = report.steps.map(step => step.name)
    expect(names.indexOf(`Compare ${OLD_COMMIT.slice(0, 12)}..${NEW_COMMIT.slice(0, 12)}`)).toBe(
      names.indexOf('Create the admin container') - 1
    )
    // One channel, the lock's, for the lock, the survey and the commit; none of its own for them.
    expect(shell.spawned).toHaveLength(1)
    expect(shell.stdins).toHaveLength(shell.commands.length)
    expect(shell.ran('currentCommit')).toBe(false)
    expect(shell.ran('appendHistory')).toBe(false)
    // The survey ran once, as the lock's own command, before anything else on the host.
    expect(
      shell.commands.filter((_, i) => scriptsIn(shell.argvs[i]).includes('survey'))
    ).toHaveLength(1)
    expect(shell.indexOf('survey')).toBe(1)
    // The history line is written on the host after the job, with the lock; the summary has it.
    const written = shell.spawned[0].written.filter(line => line.startsWith('after '))
    const history = Buffer.from(written.at(-1)!.slice(6).trim(), 'base64').toString()
    expect(history).toContain('"result":"deployed"')
    expect(history).toContain(`"toCommit":"${NEW_COMMIT}"`)
    expect(report.history?.map(h => h.time)).toEqual(['t0', expect.any(String)])
  })

  it("loads the GitHub side's code while the host takes the lock", async () => {
    const shell = healthyHost()
    const warmed: number[] = []
    const report = await deploy(settings(), {
      runner: new FakeRunner(),
      holder,
      connect: async () => shell,
      warm: () => warmed.push(shell.spawned.length)
    })
    expect(report.outcome).toBe('deployed')
    // Once, the lock's holder already asked for: its wait is what the loading fills.
    expect(warmed).toEqual([1])
  })

  it('names `repo-path` when the admin container has no checkout there, and only then', async () => {
    const missing = healthyHost().on('fetchAndRelate', {
      code: 126,
      stdout:
        'OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("/srv/nope") set in config.json failed: no such file or directory: unknown\n'
    })
    const { report } = await runDeploy(missing, { repoPath: '/srv/nope' })
    expect(report.outcome).toBe('failed')
    expect(report.failedStep).toBe('Check the checkout for local changes')
    expect(report.reason).toMatch(
      /^Could not read the commit at \/srv\/nope in texasca-api-admin: [\s\S]*chdir to cwd[\s\S]*\nCheck `repo-path`/
    )
    // A fetch that fails is not repo-path's fault.
    const offline = healthyHost().on('fetchAndRelate', {
      code: 128,
      stdout: "#changed\n#relation\nfatal: unable to access 'https://example.test/app.git/'\n"
    })
    const failed = await runDeploy(offline)
    expect(failed.report.reason).toMatch(/unable to access/)
    expect(failed.report.reason).not.toMatch(/repo-path/)
  })

  it("says why it cannot read production's commit, from what the survey read", async () => {
    const broken = Buffer.from('fatal: not a git repository').toString('base64')
    const shell = healthyHost().on('survey', {
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n#heads\n${PROD_ID} 128 ${broken}\n`
    })
    const { report } = await runDeploy(shell, { paths: ['app.js'] })
    expect(report.outcome).toBe('failed')
    expect(report.failedStep).toBe('Read what production runs')
    expect(report.reason).toMatch(
      /Could not read the commit at \/srv\/app in texasca-api: git rev-parse HEAD exited with code 128:\nfatal: not a git repository\nCheck `repo-path`/
    )
  })

  it('stops production within its own StopTimeout, read from the survey, not by an inspect of its own', async () => {
    const withOwn = container({
      Config: { Image: 'texasca/api', Env: CONFIG.Env, User: '', StopTimeout: 42 }
    })
    const shell = healthyHost().on('survey', {
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${withOwn}\n`
    })
    const { report } = await runDeploy(shell)
    expect(report.outcome).toBe('deployed')
    expect(shell.commands.some(c => c.includes(`' sh ${PROD_ID} 42 '`))).toBe(true)
    // Without a StopTimeout of its own, Docker's 10 s.
    const plain = healthyHost()
    await runDeploy(plain)
    expect(plain.commands.some(c => c.includes(`' sh ${PROD_ID} 10 '`))).toBe(true)
    // Run with --rm (as a systemd unit's `docker run --rm`): Docker removes it once stopped, so
    // the swap does not wait on a `docker rm` of its own.
    const autoRemoved = healthyHost().on('survey', {
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${container({ HostConfig: { NetworkMode: 'host', AutoRemove: true } })}\n`
    })
    expect((await runDeploy(autoRemoved)).report.outcome).toBe('deployed')
    expect(autoRemoved.commands.some(c => c.includes(`' sh ${PROD_ID} 10 auto'`))).toBe(true)
  })

  it('follows the runbook in order and reports the new release', async () => {
    const shell = healthyHost()
    const { report, runner } = await runDeploy(shell)

    expect(report.reason).toBeUndefined()
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
      // The check and the fast-forward: one round trip.
      'fetchAndRelate',
      /docker exec .* texasca-api-admin [\s\S]* sh -c 'grunt build'/,
      /docker commit/,
      // The swap: the tag moves only here, in the command that stops production.
      /docker tag .* texasca\/api:hermes-previous/,
      new RegExp(`docker tag ${NEW_IMAGE} texasca/api:latest`),
      removal(PROD_ID),
      'waitForContainer',
      'health'
    ] as const
    const order = steps.map(p => shell.indexOf(p))
    expect(steps.filter((_, i) => order[i] < 0)).toEqual([])
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(shell.indexOf('fastForward')).toBe(-1)
    // The admin container, done with after the commit, goes after the job: the lock's holder
    // removes it first, before it prunes releases.
    expect(shell.ran(/docker rm --force texasca-api-admin/)).toBe(false)
    expect(afterWork(shell)[0]).toBe('docker rm --force texasca-api-admin')
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

  it('writes the supervisor’s own environment into the admin container’s /dev/shm once, never on a command line', async () => {
    const shell = healthyHost()
    await runDeploy(shell, { buildEnv: ['NPM_TOKEN=t0k3n'] })
    // The first command in the admin container takes it on stdin and writes it into the
    // container's tmpfs, which a commit does not take; every later one reads it from there.
    const check = shell.indexOf('fetchAndRelate')
    expect(shell.argvs[check].slice(0, 3)).toEqual(['docker', 'exec', '--interactive'])
    expect(withEnvArgs(shell.argvs[check])).toEqual([
      '/dev/shm/hermes-deploy.env',
      '/dev/shm/hermes-deploy.build.env',
      '',
      'write',
      'sh',
      '-c',
      remote.fetchAndRelate,
      'sh',
      'master',
      NEW_COMMIT,
      remote.fastForward
    ])
    expect(shell.stdins[check]).toBe(
      'export RUNTIME_SECRET=s3cret\n#build-env\nexport NPM_TOKEN=t0k3n\n'
    )
    const build = shell.indexOf(/grunt build/)
    expect(withEnvArgs(shell.argvs[build]).slice(2)).toEqual([
      'build',
      '',
      'sh',
      '-c',
      'grunt build'
    ])
    expect(shell.argvs[build]).not.toContain('--interactive')
    // Only the first sends anything on stdin, so no other waits to.
    expect(shell.stdins.filter((stdin, i) => stdin !== undefined && i !== check)).toEqual([])
    expect(shell.commands.join('\n')).not.toMatch(/s3cret|t0k3n/)
  })

  it('sends the environment to each command on stdin when a name cannot be exported by a shell', async () => {
    const shell = healthyHost().on('survey', {
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${container({ Config: { Image: 'texasca/api', Env: [...CONFIG.Env, 'RUNTIME_SECRET=s3cret', 'odd.name=1'], User: '' } })}\n`
    })
    await runDeploy(shell)
    expect(shell.ran('withEnv')).toBe(false)
    const build = shell.indexOf(/grunt build/)
    expect(shell.commands[build]).toContain('--env-file /dev/stdin')
    expect(shell.stdins[build]).toBe('RUNTIME_SECRET=s3cret\nodd.name=1\n')
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

  it('with `paths` and no file list from GitHub, fast-forwards only after git on the host has listed the files', async () => {
    const shell = healthyHost().on('filesBetween', { stdout: 'app.js\n' })
    const { report } = await runDeploy(shell, { paths: ['app.js'] })
    expect(report.outcome).toBe('deployed')
    const check = shell.indexOf('fetchAndRelate')
    expect(shell.commands[check]).not.toContain('merge --ff-only')
    expect(check).toBeLessThan(shell.indexOf('filesBetween'))
    expect(shell.indexOf('filesBetween')).toBeLessThan(shell.indexOf('fastForward'))
    expect(report.changedFiles).toEqual(['app.js'])
    expect(report.commits).toEqual(['2222222 Add feature'])
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
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n${stale}\n`
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
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n${orphan}\n`
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
        stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n`
      }))
    // After the swap the survey shows the failed release; the wait for the old image finds it back.
    let surveys = 0
    shell.on('survey', () => {
      surveys += 1
      const running = surveys === 1 ? container() : container({ Id: NEW_PROD_ID, Image: NEW_IMAGE })
      return { stdout: `#inspect\n${image(OLD_IMAGE)}\n${running}\n` }
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
      stdout: `#inspect\n${image(OLD_IMAGE)}\n${container()}\n${busy}\n`
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

describe('the deploy hooks', () => {
  const swap = /docker tag .* texasca\/api:hermes-previous/
  const migrate = /sh -c 'npm run migrate'/
  /** A reply that prints `text` as the real connection does: live, through onOutput. */
  const printing =
    (code: number, text: string) =>
    (_script: string, options: { onOutput?: (chunk: string, stream: 'stdout') => unknown }) => {
      options.onOutput?.(text, 'stdout')
      return { code, stdout: text }
    }

  it('runs the pre-deploy command after the commit and before the canary and the swap, in the admin container', async () => {
    let removedBeforeHook: boolean | undefined
    const shell: FakeShell = healthyHost().on(migrate, (script, options) => {
      removedBeforeHook = afterWork(shell).some(command => command.includes('docker rm'))
      return printing(0, '')(script, options)
    })
    const { report } = await runDeploy(shell, {
      preDeployCommand: 'npm run migrate',
      buildEnv: ['NPM_TOKEN=t0ken'],
      canarySeconds: 1
    })
    expect(report.outcome).toBe('deployed')
    const hook = shell.indexOf(migrate)
    // As the build: in repo-path, with production's environment and build-env, never in argv.
    expect(shell.argvs[hook].slice(0, 5)).toEqual([
      'docker',
      'exec',
      '--workdir',
      '/srv/app',
      'texasca-api-admin'
    ])
    expect(withEnvArgs(shell.argvs[hook]).slice(2)).toEqual([
      'build',
      '',
      'sh',
      '-c',
      'npm run migrate'
    ])
    expect(shell.stdins[hook]).toBeUndefined()
    expect(shell.stdins[shell.indexOf('fetchAndRelate')]).toBe(
      'export RUNTIME_SECRET=s3cret\n#build-env\nexport NPM_TOKEN=t0ken\n'
    )
    expect(hook).toBeGreaterThan(shell.indexOf(/docker commit/))
    expect(hook).toBeLessThan(shell.indexOf('watchCanary'))
    expect(hook).toBeLessThan(shell.indexOf(swap))
    // The admin container outlives the commit for it, and is handed to the lock's holder to
    // remove once it passed.
    expect(shell.commands[shell.indexOf(/docker commit/)]).not.toMatch(/docker rm/)
    expect(shell.ran(/docker rm --force texasca-api-admin/)).toBe(false)
    expect(removedBeforeHook).toBe(false)
    expect(afterWork(shell)[0]).toBe('docker rm --force texasca-api-admin')
    const names = report.steps.map(step => step.name)
    expect(
      names.slice(names.indexOf('Commit the release image'), names.indexOf('Canary') + 1)
    ).toEqual(['Commit the release image', 'Run the pre-deploy command', 'Canary'])
    expect(report.hooks).toEqual([
      { name: 'pre-deploy-command', code: 0, durationMs: expect.any(Number), tail: '' }
    ])
  })

  it('stops before the swap, production untouched, when the pre-deploy command fails', async () => {
    const shell = healthyHost().on(
      migrate,
      printing(3, 'Migrating 0042_add_index\nERROR: relation "users_email" already exists\n')
    )
    const { report } = await runDeploy(shell, {
      preDeployCommand: 'npm run migrate',
      canarySeconds: 1
    })
    expect(report).toMatchObject({
      outcome: 'failed',
      failedStep: 'Run the pre-deploy command',
      rolledBack: false
    })
    expect(report.reason).toMatch(
      /pre-deploy command \(`pre-deploy-command`\) exited with code 3; production is unchanged/
    )
    expect(report.reason).toMatch(/not undone/)
    expect(shell.ran('watchCanary')).toBe(false)
    expect(shell.ran(/docker tag/)).toBe(false)
    expect(shell.ran(removal(PROD_ID))).toBe(false)
    // The clean-up removes the admin container it ran in.
    expect(shell.commands.at(-1)).toBe('docker rm --force texasca-api-admin')
    expect(report.hooks?.[0]).toMatchObject({
      name: 'pre-deploy-command',
      code: 3,
      tail: 'Migrating 0042_add_index\nERROR: relation "users_email" already exists'
    })
  })

  it('stops the pre-deploy command at `command-timeout`, production untouched', async () => {
    let clock = 0
    const shell = healthyHost().on(migrate, () => {
      clock += 61_000
      throw new Error('`pre-deploy-command` did not finish within 60 s; it was abandoned.')
    })
    const report = await deploy(settings({ preDeployCommand: 'npm run migrate' }), {
      runner: new FakeRunner(),
      holder,
      connect: async () => shell,
      now: () => clock
    })
    expect(report.failedStep).toBe('Run the pre-deploy command')
    expect(report.reason).toMatch(
      /`pre-deploy-command`\) did not finish within 60 s \(`command-timeout`\).*production is unchanged/
    )
    expect(report.hooks?.[0].code).toBe(124)
    expect(shell.ran(/docker tag/)).toBe(false)
    expect(shell.commands.at(-1)).toBe('docker rm --force texasca-api-admin')
  })

  it('streams the hook output to the log and shows its last lines in the summary', async () => {
    const lines = Array.from({ length: 14 }, (_, i) => `Migrating ${String(i).padStart(4, '0')}`)
    const shell = healthyHost().on(migrate, (_script, options) => {
      options.onOutput?.(`\u001b[32m${lines.join('\n')}\u001b[0m\n`, 'stdout')
      return { code: 0 }
    })
    const { report, runner } = await runDeploy(shell, { preDeployCommand: 'npm run migrate' })
    expect(runner.streamed).toContain('Migrating 0013')
    const summary = renderSummary(report)
    expect(summary).toMatch(
      /### Hooks\n\n`pre-deploy-command`: ✓ exit code 0, \d+ ms; the last lines of its output:\n\n```\nMigrating 0004\n[\s\S]*Migrating 0013\n```/
    )
    expect(summary).not.toContain('Migrating 0003')
    expect(summary).not.toContain('\u001b')
  })

  it('runs the post-deploy command on the host once the release is confirmed, with the HERMES_* variables as arguments', async () => {
    const shell = healthyHost()
    const code = 'echo "deployed $HERMES_COMMIT"'
    const { report } = await runDeploy(shell, { postDeployCommand: code })
    expect(report.outcome).toBe('deployed')
    const hook = shell.indexOf('runBounded')
    expect(hook).toBeGreaterThan(shell.indexOf('health'))
    expect(hook).toBeGreaterThan(shell.indexOf('retain'))
    expect(shell.argvs[hook]).toEqual([
      'env',
      `HERMES_COMMIT=${NEW_COMMIT}`,
      `HERMES_PREVIOUS_COMMIT=${OLD_COMMIT}`,
      `HERMES_IMAGE_ID=${NEW_IMAGE}`,
      `HERMES_PREVIOUS_IMAGE_ID=${OLD_IMAGE}`,
      `HERMES_CONTAINER_ID=${NEW_PROD_ID}`,
      'sh',
      '-c',
      remote.runBounded,
      'sh',
      code,
      '60'
    ])
    expect(shell.stdins[hook]).toBeUndefined()
    // Under a real sh, the text the host receives sets the variables and runs the code as given.
    const out = execFileSync('sh', ['-c', shell.commands[hook]], { encoding: 'utf8' })
    expect(out).toBe(`deployed ${NEW_COMMIT}\n`)
    expect(report.steps.map(step => step.name).slice(-2)).toEqual([
      'Retain releases',
      'Run the post-deploy command'
    ])
  })

  it('never runs the post-deploy command after a rollback', async () => {
    let surveys = 0
    const shell = healthyHost()
      .on('survey', () => {
        surveys += 1
        const running =
          surveys === 1 ? container() : container({ Id: NEW_PROD_ID, Image: NEW_IMAGE })
        return { stdout: `#inspect\n${image(OLD_IMAGE)}\n${running}\n` }
      })
      .on('waitForContainer', script => ({
        stdout: script.includes(NEW_IMAGE)
          ? `${NEW_PROD_ID} texasca-api\n`
          : `${'f'.repeat(64)} texasca-api\n`
      }))
    let healthChecks = 0
    shell.on('health', () =>
      ++healthChecks === 1 ? { code: 1, stdout: 'down\n' } : { stdout: 'passed on attempt 2\n' }
    )
    const { report } = await runDeploy(shell, { postDeployCommand: 'notify' })
    expect(report.outcome).toBe('rolled-back')
    expect(shell.ran('runBounded')).toBe(false)
    expect(report.hooks).toBeUndefined()
  })

  it('warns when the post-deploy command fails, and the deploy still succeeds', async () => {
    const shell = healthyHost().on('runBounded', printing(7, 'curl: (22) 500\n'))
    const { report, runner } = await runDeploy(shell, { postDeployCommand: 'notify' })
    expect(report.outcome).toBe('deployed')
    expect(report.failedStep).toBeUndefined()
    expect(runner.warnings.join('\n')).toMatch(
      /post-deploy command \(`post-deploy-command`\) exited with code 7\. Production keeps the release bbbbbbbbbbbb[\s\S]*curl: \(22\) 500/
    )
    expect(report.steps.at(-1)).toMatchObject({
      name: 'Run the post-deploy command',
      status: 'failed'
    })
    expect(report.hooks).toEqual([
      {
        name: 'post-deploy-command',
        code: 7,
        durationMs: expect.any(Number),
        tail: 'curl: (22) 500'
      }
    ])
  })

  it('fails the job, but keeps the release, when the post-deploy command must pass', async () => {
    const shell = healthyHost().on('runBounded', { code: 7 })
    const { report, phases } = await runDeploy(shell, {
      postDeployCommand: 'notify',
      postDeployMustPass: true
    })
    expect(report).toMatchObject({
      outcome: 'failed',
      failedStep: 'Run the post-deploy command',
      rolledBack: false,
      imageId: NEW_IMAGE,
      containerId: NEW_PROD_ID
    })
    expect(report.reason).toMatch(/exited with code 7[\s\S]*`post-deploy-must-pass` is on/)
    // No rollback: the tag stays on the release, its container stays, the post step has nothing to undo.
    expect(shell.ran(new RegExp(`docker tag ${OLD_IMAGE} texasca/api:latest`))).toBe(false)
    expect(shell.ran(removal(NEW_PROD_ID))).toBe(false)
    expect(phases.at(-1)?.phase).toBe('done')
  })

  it('runs neither hook in a dry run, and lists both in the plan', async () => {
    const shell = healthyHost().on('remoteTip', { stdout: `${NEW_COMMIT}\trefs/heads/master\n` })
    const { report } = await runDeploy(shell, {
      dryRun: true,
      preDeployCommand: 'npm run migrate',
      postDeployCommand: 'notify'
    })
    expect(report.outcome).toBe('dry-run')
    expect(shell.ran(/npm run migrate|notify/)).toBe(false)
    expect(report.plan).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pre-deploy command in texasca-api-admin.*: npm run migrate$/),
        expect.stringMatching(/^post-deploy command on the host.*is a warning.*: notify$/)
      ])
    )
    const plan = report.plan!
    expect(plan.findIndex(line => line.startsWith('pre-deploy'))).toBeLessThan(
      plan.findIndex(line => line.startsWith('canary') || line.startsWith('no canary'))
    )
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
