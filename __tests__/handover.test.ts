import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { split } from 'shlex'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { FakeShell, scriptsIn, type ScriptName } from '../__fixtures__/fake-shell.js'
import { findProduction } from '../src/decide.js'
import { httpReady, type ContainerInfo } from '../src/docker.js'
import { DeployError, Host } from '../src/host.js'
import { imageRef, type HandoverSettings, type Settings } from '../src/inputs.js'
import { recover } from '../src/post.js'
import * as remote from '../src/remote/scripts.js'
import { replaceProduction, RolledBack } from '../src/replace.js'

// The zero-downtime handover (`handover: caddy`), through replaceProduction on a fake host: the
// stand-in's start is one round trip, the traffic goes back only once production answers, and
// whatever fails, the stand-in keeps the traffic only while nothing else serves.

const OLD_IMAGE = 'sha256:' + 'a'.repeat(64)
const NEW_IMAGE = 'sha256:' + 'b'.repeat(64)
const PROD_ID = 'c'.repeat(64)
const NEW_PROD_ID = 'd'.repeat(64)
const RESTORED_ID = 'f'.repeat(64)
const STANDIN = 'texasca-api-standin'

const HANDOVER: HandoverSettings = {
  proxy: 'caddy',
  appPort: 8080,
  standinPort: 8081,
  portVariable: 'PORT',
  readyPath: '/healthz',
  caddyAdmin: 'http://localhost:2019'
}

const production = (over: Partial<ContainerInfo> = {}): ContainerInfo => ({
  id: PROD_ID,
  name: 'texasca-api',
  imageId: OLD_IMAGE,
  imageName: 'texasca/api',
  running: true,
  status: 'running',
  created: '',
  networkMode: 'host',
  env: ['PATH=/usr/bin', 'APP_ENV=production', 'PORT=8080', 'PORTAL=x'],
  user: '',
  execIds: [],
  process: ['node', 'server.js'],
  cmd: ['node', 'server.js'],
  binds: [],
  portBindings: {},
  restartPolicy: 'always',
  autoRemove: false,
  init: false,
  labels: {},
  ...over
})

type Replacement = Parameters<typeof replaceProduction>[2]

async function replace(shell: FakeShell, over: Partial<Replacement> = {}) {
  const runner = new FakeRunner()
  const phases: string[] = []
  const result = await replaceProduction(new Host(shell, runner), runner, {
    image: imageRef('texasca/api'),
    production: production(),
    previousImageId: OLD_IMAGE,
    previousConfig: { Cmd: ['node', 'server.js'], Env: ['PATH=/usr/bin'] },
    releaseId: NEW_IMAGE,
    serve: {
      respawnTimeoutSec: 5,
      stopTimeoutSec: 5,
      healthCommand: 'curl -fsS http://127.0.0.1:8080/',
      healthTimeoutSec: 5,
      stableSeconds: 0,
      ignore: 'texasca-api-admin'
    },
    rollback: true,
    handover: HANDOVER,
    progress: phase => phases.push(phase),
    ...over
  }).then(
    id => ({ id, error: undefined }),
    (error: unknown) => ({ id: undefined, error })
  )
  return { ...result, runner, phases }
}

const inspected = (id: string, name: string, image: string, labels: Record<string, string> = {}) =>
  JSON.stringify({
    Id: id,
    Name: `/${name}`,
    Image: image,
    State: { Running: true, Status: 'running' },
    Config: { Image: image === OLD_IMAGE ? 'texasca/api' : image, Labels: labels },
    HostConfig: { NetworkMode: 'host' }
  })
const surveyed = (tagged: string, containers: string[]) => ({
  stdout: `#inspect\n${JSON.stringify({ Id: tagged, Config: {} })}\n${containers.join('\n')}\n`
})

/**
 * A host where everything succeeds: the swap's wait finds the release's container, a rollback's
 * wait the previous release's; after the swap the survey shows the release and the stand-in.
 */
function host(): FakeShell {
  return new FakeShell()
    .on('waitForContainer', script => ({
      stdout: script.includes(NEW_IMAGE)
        ? `${PROD_ID}\n${NEW_PROD_ID} texasca-api\n`
        : `${RESTORED_ID} texasca-api\n`
    }))
    .on('health', { stdout: 'passed on attempt 1\n' })
    .on(
      'survey',
      surveyed(OLD_IMAGE, [
        inspected(NEW_PROD_ID, 'texasca-api', NEW_IMAGE),
        inspected('e'.repeat(64), STANDIN, NEW_IMAGE, { 'hermes-deploy.standin': 'texasca-api' })
      ])
    )
}

/** The commands of a `chain`, each as its argument vector; a chain inside it unpacked. */
function partsOf(argv: readonly string[]): string[][] {
  expect(argv.slice(0, 2)).toEqual(['sh', '-c'])
  const parts: string[][] = [[]]
  for (const word of split(argv[2])) {
    if (word === '&&') parts.push([])
    else parts.at(-1)!.push(word)
  }
  // A script is `sh -c <script> sh <args>`; a chain in the chain is `sh -c <commands>`.
  return parts.flatMap(part =>
    part.length === 3 && part[0] === 'sh' && part[1] === '-c' ? partsOf(part) : [part]
  )
}

/** The arguments each call of a remote script in a chain is given. */
function argsOf(argv: readonly string[], name: ScriptName): string[][] {
  return partsOf(argv)
    .filter(part => part[0] === 'sh' && part[1] === '-c' && part[2] === remote[name])
    .map(part => part.slice(4))
}

const STANDIN_RUN = /docker run --detach --name texasca-api-standin/
const ROLLBACK_TAG = new RegExp(`docker tag ${OLD_IMAGE} texasca/api:latest`)

/** The indexes of the commands that run `pattern`, in order. */
function indexesOf(shell: FakeShell, pattern: ScriptName): number[] {
  return shell.argvs.flatMap((argv, i) => (scriptsIn(argv).includes(pattern) ? [i] : []))
}

/** Checks a give-back chain: the proxy back to the app port, the drain, the stand-in's stop. */
function expectGiveBack(argv: readonly string[]) {
  expect(argsOf(argv, 'caddySwitch')).toEqual([
    ['http://localhost:2019', '8081', '8080', 'if-present']
  ])
  expect(argsOf(argv, 'caddyDrain')).toEqual([['http://localhost:2019', '8081', '5']])
  const stops = argsOf(argv, 'stopGracefully')
  expect(stops.map(args => args.slice(0, 2))).toEqual([[STANDIN, '5']])
  // Removed, never kept aside.
  expect(stops[0].slice(2).join('')).toBe('')
}

describe('replacing production with a handover (host network)', () => {
  it('starts the stand-in in one round trip, swaps, then gives the traffic back', async () => {
    const shell = host()
    const { id, error, phases, runner } = await replace(shell)
    expect(error).toBeUndefined()
    expect(id).toBe(NEW_PROD_ID)
    expect(shell.argvs.map(scriptsIn)).toEqual([
      ['caddySwitch', 'removeIfPresent', 'httpReady', 'caddySwitch'],
      ['stopGracefully', 'waitForContainer', 'health'],
      ['httpReady', 'caddySwitch', 'caddyDrain', 'stopGracefully']
    ])

    const [start, swap, end] = shell.argvs
    // A stale stand-in gives the traffic back and goes; the new one starts, answers, takes it.
    expect(argsOf(start, 'caddySwitch')).toEqual([
      ['http://localhost:2019', '8081', '8080', 'if-present'],
      ['http://localhost:2019', '8080', '8081', 'required']
    ])
    expect(argsOf(start, 'removeIfPresent')).toEqual([[STANDIN]])
    expect(argsOf(start, 'httpReady')).toEqual([['http://127.0.0.1:8081/healthz', '5']])
    const parts = partsOf(start)
    const run = parts.find(part => part[0] === 'docker' && part[1] === 'run')!
    expect(parts.indexOf(run)).toBe(2)
    expect(run.join(' ')).toContain(
      '--name texasca-api-standin --env-file /dev/stdin --label hermes-deploy.standin=texasca-api --network host --env PORT=8081'
    )
    expect(run).not.toContain('--restart')
    expect(run.at(-1)).toBe(NEW_IMAGE)
    // Production's environment, without its own port: the stand-in's comes from --env.
    expect(shell.stdins[0]).toBe('PATH=/usr/bin\nAPP_ENV=production\nPORTAL=x\n')
    // Production is swapped only once the stand-in has the traffic.
    expect(swap.join(' ')).toContain(`docker tag ${NEW_IMAGE} texasca/api:latest`)
    // The traffic goes back once production answers ready-path on the app port.
    expect(argsOf(end, 'httpReady')).toEqual([['http://127.0.0.1:8080/healthz', '5']])
    expect(partsOf(end)[0][2]).toBe(remote.httpReady)
    expectGiveBack(end)
    expect(phases).toEqual(['releasing', 'done'])
    expect(runner.log.join('\n')).toMatch(/Stand-in texasca-api-standin of .* answers on port 8081/)
  })

  it('leaves production unchanged when the stand-in does not answer', async () => {
    const shell = host()
      .on(STANDIN_RUN, {
        code: 124,
        stderr: 'http://127.0.0.1:8081/healthz did not answer 2xx or 3xx within 5 s; last: 502\n'
      })
      .on(/docker logs --tail 20 texasca-api-standin/, {
        stdout: 'Error: Cannot find module express\n'
      })
    const { error, phases } = await replace(shell)
    expect(error).toBeInstanceOf(DeployError)
    const text = (error as Error).message
    expect(text).toMatch(/production is unchanged/)
    expect(text).toMatch(
      /did not answer \/healthz \(`ready-path`\) on port 8081 within 5 s \(`health-timeout`\)/
    )
    expect(text).toContain('last: 502')
    expect(text).toContain('Cannot find module express')
    expect(shell.ran('waitForContainer')).toBe(false)
    expect(shell.ran(/docker tag/)).toBe(false)
    const giveBack = indexesOf(shell, 'caddyDrain')
    expect(giveBack).toHaveLength(1)
    expect(giveBack[0]).toBe(shell.commands.length - 1)
    // Production never lost the traffic: nothing to wait for before the give-back.
    expect(scriptsIn(shell.argvs[giveBack[0]])).toEqual([
      'caddySwitch',
      'caddyDrain',
      'stopGracefully'
    ])
    expectGiveBack(shell.argvs[giveBack[0]])
    expect(phases).toEqual(['releasing', 'done'])
  })

  it('names caddy-admin and app-port when the handover cannot start', async () => {
    const shell = host().on(STANDIN_RUN, {
      code: 3,
      stderr:
        "Caddy's admin API at http://localhost:2019 did not answer (is Caddy running, with its admin endpoint there?)\n"
    })
    const { error, phases } = await replace(shell)
    expect(error).toBeInstanceOf(DeployError)
    const text = (error as Error).message
    expect(text).toMatch(/The handover could not start \(exit 3\), and production is unchanged/)
    expect(text).toMatch(/admin API at http:\/\/localhost:2019 did not answer/)
    expect(text).toMatch(/`caddy-admin`.*port 8080 \(`app-port`\).*port 8081 \(`standin-port`\)/)
    expect(shell.ran('waitForContainer') || shell.ran(/docker tag|docker logs/)).toBe(false)
    expect(phases).toEqual(['releasing', 'done'])
  })

  it('gives the traffic back only after the rollback restored production', async () => {
    let checks = 0
    const shell = host().on('health', () =>
      ++checks === 1
        ? { code: 1, stdout: 'curl: (22) The requested URL returned error: 500\n' }
        : { stdout: 'passed on attempt 1\n' }
    )
    const { error, phases } = await replace(shell)
    expect(error).toBeInstanceOf(RolledBack)
    expect((error as RolledBack).containerId).toBe(RESTORED_ID)
    expect((error as RolledBack).cause).toMatch(/health command did not pass/)
    const retag = shell.indexOf(ROLLBACK_TAG)
    const restored = indexesOf(shell, 'waitForContainer')[1]
    expect(retag).toBeGreaterThan(shell.indexOf('health'))
    expect(restored).toBeGreaterThan(retag)
    const ends = indexesOf(shell, 'caddyDrain')
    expect(ends).toHaveLength(1)
    expect(ends[0]).toBeGreaterThan(restored)
    expect(argsOf(shell.argvs[ends[0]], 'httpReady')).toEqual([
      ['http://127.0.0.1:8080/healthz', '5']
    ])
    // The rollback removes the failed release's container, never the stand-in that serves.
    const stops = shell.argvs.filter(argv => scriptsIn(argv).join() === 'stopGracefully')
    expect(stops.map(argv => argv[4])).toEqual([NEW_PROD_ID])
    expect(phases).toEqual(['releasing', 'done'])
  })

  it('keeps the stand-in serving when the rollback fails too', async () => {
    const shell = host()
      .on('health', { code: 1, stdout: 'down\n' })
      .on(ROLLBACK_TAG, { code: 1, stderr: 'Error response from daemon: No such image\n' })
    const { error, phases } = await replace(shell)
    expect(error).toBeInstanceOf(DeployError)
    expect(error).not.toBeInstanceOf(RolledBack)
    expect((error as Error).message).toMatch(/ROLLBACK FAILED/)
    expect(shell.ran(ROLLBACK_TAG)).toBe(true)
    // Nothing points Caddy back at production, nor stops the stand-in.
    expect(shell.ran('caddyDrain')).toBe(false)
    expect(shell.argvs.slice(1).some(argv => scriptsIn(argv).includes('caddySwitch'))).toBe(false)
    // Not done: the post step tries the rollback and the give-back again.
    expect(phases).toEqual(['releasing'])
  })

  it('rolls back when production does not answer on app-port after the swap, then gives the traffic back', async () => {
    let ends = 0
    const shell = host().on('caddyDrain', () =>
      ++ends === 1
        ? {
            code: 124,
            stderr:
              'http://127.0.0.1:8080/healthz did not answer 2xx or 3xx within 5 s; last: 502\n'
          }
        : {}
    )
    const { error, phases } = await replace(shell)
    expect(error).toBeInstanceOf(RolledBack)
    expect((error as RolledBack).cause).toMatch(
      /Production does not answer \/healthz on port 8080, so Caddy still sends the traffic to the stand-in texasca-api-standin \(port 8081\)[\s\S]*last: 502/
    )
    const endChains = indexesOf(shell, 'caddyDrain')
    expect(endChains).toHaveLength(2)
    const retag = shell.indexOf(ROLLBACK_TAG)
    expect(endChains[0]).toBeLessThan(retag)
    expect(endChains[1]).toBeGreaterThan(retag)
    expect(endChains[1]).toBe(shell.commands.length - 1)
    expect(phases).toEqual(['releasing', 'done'])
  })

  it('says the stand-in keeps the traffic when rollback is off and production does not answer', async () => {
    const shell = host()
      .on('health', { code: 1, stdout: 'down\n' })
      .on('caddyDrain', { code: 124, stderr: 'last: 502\n' })
    const { error, runner, phases } = await replace(shell, { rollback: false })
    expect((error as Error).message).toMatch(/health command did not pass/)
    expect(shell.ran(ROLLBACK_TAG)).toBe(false)
    expect(indexesOf(shell, 'caddyDrain')).toHaveLength(1)
    expect(runner.errors.join('\n')).toMatch(
      /Rollback is off[\s\S]*Production does not answer \/healthz on port 8080, so Caddy still sends the traffic to the stand-in/
    )
    expect(phases).toEqual(['releasing', 'done'])
  })

  it('leaves the progress at releasing when the connection is lost, for the post step', async () => {
    const lost = () => {
      throw new Error('The SSH connection to core@127.0.0.1:22 was lost')
    }
    // During the swap, and everything after it.
    const swapping = host()
      .on(/docker tag/, lost)
      .on('survey', lost)
    const during = await replace(swapping)
    expect(during.error).toBeInstanceOf(Error)
    expect(during.phases).toEqual(['releasing'])
    expect(swapping.ran('caddyDrain')).toBe(false)
    // While starting the stand-in.
    const starting = host().on(STANDIN_RUN, lost)
    const before = await replace(starting)
    expect(before.error).not.toBeInstanceOf(DeployError)
    expect((before.error as Error).message).toMatch(/was lost/)
    expect(before.phases).toEqual(['releasing'])
    expect(starting.commands).toHaveLength(1)
  })
})

describe('replacing production with a handover (bridge network)', () => {
  const bridged = (portBindings: ContainerInfo['portBindings']) =>
    production({
      networkMode: 'bridge',
      env: ['PATH=/usr/bin', 'APP_ENV=production', 'PORT=3000'],
      portBindings
    })

  it('publishes the stand-in port to the container port production publishes on app-port', async () => {
    const shell = host()
    const { error } = await replace(shell, {
      production: bridged({
        '3000/tcp': [{ HostIp: '', HostPort: '8080' }],
        '9229/tcp': [{ HostIp: '', HostPort: '9229' }]
      })
    })
    expect(error).toBeUndefined()
    const run = partsOf(shell.argvs[0]).find(part => part[0] === 'docker' && part[1] === 'run')!
    expect(run.join(' ')).toContain('--network bridge --publish 8081:3000/tcp')
    expect(run.filter(arg => arg === '--publish')).toHaveLength(1)
    expect(run).not.toContain('--env')
    // Its port inside the container is production's: the variable stays.
    expect(shell.stdins[0]).toBe('PATH=/usr/bin\nAPP_ENV=production\nPORT=3000\n')
  })

  it('refuses, before any command, a production that publishes nothing on app-port', async () => {
    const shell = host()
    const { error, phases } = await replace(shell, {
      production: bridged({ '3000/tcp': [{ HostIp: '', HostPort: '9000' }] })
    })
    expect(error).toBeInstanceOf(DeployError)
    expect((error as Error).message).toMatch(
      /texasca-api is on the bridge network and publishes no port as host port 8080 \(`app-port`\): production is unchanged/
    )
    expect(shell.commands).toHaveLength(0)
    expect(phases).toEqual(['releasing', 'done'])
  })
})

describe('finding production beside a stand-in', () => {
  const settings = { image: imageRef('texasca/api') } as Settings
  const standin = production({
    id: 'e'.repeat(64),
    name: STANDIN,
    imageId: NEW_IMAGE,
    imageName: NEW_IMAGE,
    labels: { 'hermes-deploy.standin': 'texasca-api' }
  })
  // A run killed mid-handover: the tag names the release, which the stand-in runs.
  const image = { id: NEW_IMAGE, config: {}, layers: 2 }

  it('never takes the stand-in for production', () => {
    expect(findProduction(settings, [standin, production()], image).name).toBe('texasca-api')
    expect(() => findProduction(settings, [standin], image)).toThrow(
      /No running container runs texasca\/api:latest/
    )
  })
})

describe('the post step with a handover', () => {
  const settings = {
    image: imageRef('texasca/api'),
    lockTimeoutSec: 5,
    respawnTimeoutSec: 5,
    healthTimeoutSec: 5,
    stopTimeoutSec: 5,
    healthCommand: 'true',
    handover: HANDOVER
  } as Settings
  const holder = { commit: 'abc', since: 'now' }
  const releasing = {
    phase: 'releasing' as const,
    previousImageId: OLD_IMAGE,
    releasedImageId: NEW_IMAGE
  }

  /** Killed after the rollback put production back: the stand-in of the release still runs. */
  function killedHost(): FakeShell {
    return new FakeShell()
      .on('lock', { stdout: 'acquired\n' })
      .on(
        'survey',
        surveyed(OLD_IMAGE, [
          inspected(RESTORED_ID, 'texasca-api', OLD_IMAGE),
          inspected('e'.repeat(64), STANDIN, NEW_IMAGE, { 'hermes-deploy.standin': 'texasca-api' })
        ])
      )
  }

  async function post(shell: FakeShell, over: Partial<Settings> = {}) {
    const runner = new FakeRunner()
    await recover({ ...settings, ...over }, releasing, {
      runner,
      holder,
      connect: async () => shell
    })
    return runner
  }

  it('gives the traffic back to production and removes the stand-in, under the lock', async () => {
    const shell = killedHost()
    const runner = await post(shell)
    // The stand-in runs the release, but it is not the release in production: no rollback.
    expect(shell.ran(/docker tag/)).toBe(false)
    expect(indexesOf(shell, 'stopGracefully')).toEqual(indexesOf(shell, 'caddyDrain'))
    const back = indexesOf(shell, 'caddyDrain')
    expect(back).toHaveLength(1)
    expect(scriptsIn(shell.argvs[back[0]])).toEqual([
      'httpReady',
      'caddySwitch',
      'caddyDrain',
      'stopGracefully'
    ])
    expect(argsOf(shell.argvs[back[0]], 'httpReady')).toEqual([
      ['http://127.0.0.1:8080/healthz', '5']
    ])
    expectGiveBack(shell.argvs[back[0]])
    expect(runner.log.join('\n')).toMatch(/Caddy sends the traffic to production on port 8080/)
    expect(shell.spawned[0].written.at(-1)).toBe('release\n')
  })

  it('leaves the stand-in serving, with a warning, when production does not answer', async () => {
    const shell = killedHost().on('caddyDrain', { code: 124, stderr: 'last: 502\n' })
    const runner = await post(shell)
    expect(shell.ran('caddyDrain')).toBe(true)
    expect(runner.warnings.join('\n')).toMatch(
      /Production does not answer on port 8080: the stand-in texasca-api-standin keeps the traffic. last: 502/
    )
  })

  // The survey lists every container on the host: another app's stand-in may be serving that
  // app's traffic while its own deploy (under its own lock) replaces it.
  it('leaves alone the stand-in of another production on the host', async () => {
    const shell = killedHost().on(
      'survey',
      surveyed(OLD_IMAGE, [
        inspected(RESTORED_ID, 'texasca-api', OLD_IMAGE),
        inspected('9'.repeat(64), 'texasca-web', 'sha256:' + '9'.repeat(64)),
        inspected('8'.repeat(64), 'texasca-web-standin', 'sha256:' + '8'.repeat(64), {
          'hermes-deploy.standin': 'texasca-web'
        })
      ])
    )
    await post(shell)
    expect(shell.commands.join('\n')).not.toContain('texasca-web-standin')
  })

  it('touches no stand-in without handover', async () => {
    const shell = killedHost()
    await post(shell, { handover: undefined })
    expect(shell.ran('httpReady') || shell.ran('caddySwitch') || shell.ran('caddyDrain')).toBe(
      false
    )
    expect(shell.ran('stopGracefully')).toBe(false)
  })
})

// The machine's own wget against a real server, with no curl on the PATH: a host without curl.
const which = (tool: string) =>
  execFileSync('sh', ['-c', 'command -v "$1" || true', 'sh', tool], { encoding: 'utf8' }).trim()
;(which('wget') ? describe : describe.skip)('http-ready.sh on a host with wget only', () => {
  const server = createServer((request, response) => {
    if (request.url === '/moved') response.writeHead(302, { Location: '/ready' }).end()
    else if (request.url === '/ready') response.writeHead(200).end('ok')
    else response.writeHead(404).end()
  })
  let base = ''
  beforeAll(async () => {
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => {
    server.closeAllConnections()
    server.close()
  })
  const bin = mkdtempSync(join(tmpdir(), 'hermes-wget-'))
  for (const tool of ['sh', 'date', 'sleep', 'wget', 'awk'])
    symlinkSync(which(tool), join(bin, tool))
  const ready = (path: string, timeoutSec: number) =>
    new Promise<{ status: number; stdout: string; stderr: string }>(resolve => {
      const [sh, ...args] = httpReady(`${base}${path}`, timeoutSec)
      execFile(sh, args, { env: { PATH: bin } }, (error, stdout, stderr) =>
        resolve({ status: error ? Number(error.code) : 0, stdout, stderr })
      )
    })

  it('passes on 200 and times out on 404', async () => {
    expect(await ready('/ready', 5)).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/answered 200/)
    })
    expect((await ready('/missing', 1)).status).toBe(124)
  })

  // wget follows the redirect; a ready-path that redirects passes, as with curl.
  it('passes on a redirect, as with curl', async () => {
    expect(await ready('/moved', 1)).toMatchObject({ status: 0 })
  })
})
