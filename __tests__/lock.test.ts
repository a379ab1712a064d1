import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lockCommand } from '../src/lock.js'

// The lock script is run here under a real local sh, as the host runs it: two holders at once.
// Each test has a lock directory of its own (HERMES_LOCK_DIR), so no test sees another's holders.
const root = mkdtempSync(join(tmpdir(), 'hermes-lock-'))
chmodSync(root, 0o755) // other users reach their lock directory below it
let lockDir = ''
let tests = 0
const lockFile = (name = 'texasca_api') => join(lockDir, `${name}.lock`)
const children: ChildProcess[] = []
jest.setTimeout(30_000)

beforeEach(() => {
  lockDir = join(root, `test-${++tests}`, 'locks')
})
afterEach(() => children.splice(0).forEach(c => c.kill('SIGKILL')))

function holder(
  commit: string,
  options: {
    timeoutSec?: number
    staleSec?: number
    dockerHost?: string
    user?: { uid: number; gid: number }
    then?: string[]
  } = {}
) {
  const [cmd, ...args] = lockCommand(
    'texasca/api',
    options.timeoutSec ?? 10,
    options.staleSec ?? 60,
    {
      commit,
      since: '2026-11-25T00:00:00Z'
    },
    options.then
  )
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: root, HERMES_LOCK_DIR: lockDir }
  if (options.dockerHost) env.DOCKER_HOST = options.dockerHost
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], ...options.user })
  children.push(child)
  let out = ''
  child.stdout.on('data', chunk => (out += chunk))
  child.stderr.on('data', chunk => (out += chunk))
  const exited = new Promise<number>(resolve => child.on('close', code => resolve(code ?? -1)))
  const saw = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`never printed ${text}; printed:\n${out}`)),
        15_000
      )
      const check = () => {
        if (out.includes(text)) {
          clearTimeout(timer)
          resolve()
        } else setTimeout(check, 10)
      }
      check()
    })
  const release = () => child.stdin.end('release\n')
  return { child, saw, exited, release, output: () => out }
}
type Holder = ReturnType<typeof holder>

/** Free: another process can take it at once. */
const free = (file = lockFile()) => spawnSync('flock', ['-n', file, 'true']).status === 0
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const acquired = (h: Holder) => h.output().includes('acquired')

/** Whether `chgrp docker` works for this user, and the docker group's id. */
function dockerGroup(): { gid: number; chgrp: boolean } | undefined {
  const entry = spawnSync('getent', ['group', 'docker'], { encoding: 'utf8' })
  if (entry.status !== 0) return undefined
  const dir = mkdtempSync(join(root, 'chgrp-'))
  return {
    gid: Number(entry.stdout.split(':')[2]),
    chgrp: spawnSync('chgrp', ['docker', dir]).status === 0
  }
}
const docker = dockerGroup()

describe('the deploy lock on the host', () => {
  it('lets one holder in at a time; the second waits, naming the first, and gets it on release', async () => {
    const first = holder('aaaaaaaaaaaa1111')
    await first.saw('acquired')
    const second = holder('bbbbbbbbbbbb2222')
    await second.saw('waiting {"commit":"aaaaaaaaaaaa1111"')
    expect(acquired(second)).toBe(false)
    first.release()
    expect(await first.exited).toBe(0)
    await second.saw('acquired')
    expect(second.output()).not.toContain('takeover') // the first let go cleanly
    expect(readFileSync(lockFile(), 'utf8')).toBe(
      '{"commit":"bbbbbbbbbbbb2222","since":"2026-11-25T00:00:00Z"}\n'
    )
    second.child.stdin.end()
    await second.exited
    expect(free()).toBe(true)
  })

  it('releases when the holder’s input closes, as when the SSH connection drops', async () => {
    const first = holder('a')
    await first.saw('acquired')
    expect(free()).toBe(false)
    first.child.stdin.end()
    await first.saw('released')
    expect(free()).toBe(true)
    expect(readFileSync(lockFile(), 'utf8')).toBe('') // a clean release leaves no holder named
  })

  it('runs the work given with `after` once released, detached, holding the lock until it is done', async () => {
    const marker = join(root, `after-${tests}`)
    const work = `sleep 1; echo pruned > '${marker}'`
    const first = holder('with-after')
    await first.saw('acquired')
    first.child.stdin.end(`after ${Buffer.from(work).toString('base64')}\nrelease\n`)
    expect(await first.exited).toBe(0) // the holder does not wait for the work
    expect(existsSync(marker)).toBe(false)
    expect(free()).toBe(false) // the work holds the lock
    expect(readFileSync(lockFile(), 'utf8')).toContain('(finishing: after the deploy)')
    const next = holder('next')
    await next.saw('waiting {"commit":"with-after"')
    await next.saw('acquired')
    expect(readFileSync(marker, 'utf8')).toBe('pruned\n') // done before the next one got in
    next.release()
    await next.exited
  })

  it('runs the command it is given once it holds the lock, and prints its output and exit code', async () => {
    const script = `[ -s '${lockFile()}' ] && echo "held; $1"; echo 'to stderr' >&2; exit 3`
    const first = holder('with-then', { then: ['sh', '-c', script, 'sh', "it's 'quoted'"] })
    await first.saw('then ')
    const line = first
      .output()
      .split('\n')
      .find(l => l.startsWith('then '))!
    expect(Buffer.from(line.slice(5), 'base64').toString()).toBe(
      `held; it's 'quoted'\nto stderr\n#exit 3\n`
    )
    expect(free()).toBe(false) // it keeps the lock after the command, until released
    first.release()
    await first.exited
    expect(free()).toBe(true)
  })

  it('runs every piece of `after` work in order, one after the other', async () => {
    const log = join(root, `after-log-${tests}`)
    const first = holder('afters')
    await first.saw('acquired')
    const work = (text: string) =>
      `after ${Buffer.from(`echo ${text} >> '${log}'`).toString('base64')}\n`
    first.child.stdin.end(`${work('retention')}${work('history')}release\n`)
    await first.exited
    const next = holder('next')
    await next.saw('acquired')
    expect(readFileSync(log, 'utf8')).toBe('retention\nhistory\n')
    next.release()
    await next.exited
  })

  it('takes over from a holder that was killed', async () => {
    const first = holder('dead-run')
    await first.saw('acquired')
    first.child.kill('SIGKILL')
    await first.exited
    const second = holder('b')
    await second.saw('takeover its process has ended: {"commit":"dead-run"')
    await second.saw('acquired')
  })

  it('lets exactly one of two waiters take over from a killed holder; the other waits for it', async () => {
    // The old mkdir lock let both in about half the time: each judged the holder dead, then moved
    // away whatever was there, which could be the lock the other had just made.
    for (let trial = 0; trial < 10; trial++) {
      lockDir = join(root, `test-${tests}`, `trial-${trial}`)
      const dead = holder('dead-run')
      await dead.saw('acquired')
      dead.child.kill('SIGKILL')
      await dead.exited
      const waiters = [holder('b'), holder('c')]
      await Promise.race(waiters.map(w => w.saw('acquired')))
      await sleep(200)
      const [winner, loser] = acquired(waiters[0]) ? waiters : [waiters[1], waiters[0]]
      expect(waiters.filter(acquired)).toHaveLength(1)
      expect(winner.output()).toContain('takeover its process has ended: {"commit":"dead-run"')
      winner.release()
      await loser.saw('acquired')
      expect(loser.output()).not.toContain('takeover')
      loser.release()
      expect(await Promise.all(waiters.map(w => w.exited))).toEqual([0, 0])
    }
  })

  it('is one lock per Docker engine: another DOCKER_HOST does not wait, the same one does', async () => {
    const first = holder('engine-2', { dockerHost: 'unix:///run/hermes-docker2.sock' })
    await first.saw('acquired')
    const other = holder('default-engine')
    await other.saw('acquired')
    const sameAsDefault = holder('default-again', {
      dockerHost: 'unix:///var/run/docker.sock',
      timeoutSec: 0
    })
    expect(await sameAsDefault.exited).toBe(75)
    expect(sameAsDefault.output()).toContain('timeout {"commit":"default-engine"')
    const same = holder('engine-2-again', {
      dockerHost: 'unix:///run/hermes-docker2.sock',
      timeoutSec: 0
    })
    expect(await same.exited).toBe(75)
    expect(same.output()).toContain('timeout {"commit":"engine-2"')
    const suffixed = spawnSync('ls', [lockDir], { encoding: 'utf8' }).stdout.split('\n')
    expect(suffixed).toContainEqual(expect.stringMatching(/^texasca_api@\d+\.lock$/))
    expect(suffixed).toContain('texasca_api.lock')
  })

  it('stops a holder that is alive but silent past the stale limit, so a waiter gets the lock', async () => {
    const first = holder('silent', { staleSec: 1 })
    await first.saw('acquired')
    const second = holder('b', { staleSec: 1 })
    await second.saw('waiting {"commit":"silent"')
    expect(await first.exited).not.toBe(0) // stopped by its own watchdog
    await second.saw('takeover its process has ended: {"commit":"silent"')
    await second.saw('acquired')
  })

  it('keeps a holder that sends heartbeats past the stale limit', async () => {
    const first = holder('alive', { staleSec: 1 })
    await first.saw('acquired')
    for (let beat = 0; beat < 6; beat++) {
      first.child.stdin.write('\n')
      await sleep(500)
    }
    expect(free()).toBe(false)
    first.release()
    expect(await first.exited).toBe(0)
  })

  it('gives up after the timeout, naming the holder; 0 tries once', async () => {
    const first = holder('busy')
    await first.saw('acquired')
    const second = holder('b', { timeoutSec: 1 })
    expect(await second.exited).toBe(75)
    expect(second.output()).toContain('timeout {"commit":"busy"')
    const started = Date.now()
    const third = holder('c', { timeoutSec: 0 })
    expect(await third.exited).toBe(75)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('makes its directory for every docker user: group docker and setgid, else sticky', async () => {
    const first = holder('a')
    await first.saw('acquired')
    const dir = statSync(lockDir)
    const file = statSync(lockFile())
    if (docker?.chgrp) {
      expect((dir.mode & 0o7777).toString(8)).toBe('2770')
      expect(dir.gid).toBe(docker.gid)
      expect(file.gid).toBe(docker.gid)
    } else expect((dir.mode & 0o7777).toString(8)).toBe('1777')
    expect((file.mode & 0o777).toString(8)).toBe('660') // group rw, nothing for others
  })

  const asRoot = process.getuid?.() === 0 && docker ? it : it.skip
  asRoot('works across users of the docker group, on a file the waiter may only read', async () => {
    // A parent anyone may write to, as /run/lock is: user a makes the lock directory in it.
    mkdirSync(join(lockDir, '..'))
    chmodSync(join(lockDir, '..'), 0o1777)
    const first = holder('user-a', { user: { uid: 4242, gid: docker!.gid } })
    await first.saw('acquired')
    chmodSync(lockFile(), 0o640)
    const second = holder('user-b', { user: { uid: 4243, gid: docker!.gid } })
    await second.saw('waiting {"commit":"user-a"')
    first.release()
    await second.saw('acquired')
    expect(second.output()).not.toContain('takeover')
    second.release()
    expect(await second.exited).toBe(0)
  })
})
