import { afterEach, describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lockCommand } from '../src/lock.js'

// The lock script is run here under a real local sh, as the host runs it: two holders at once.
const home = mkdtempSync(join(tmpdir(), 'hermes-lock-'))
const lockDir = join(home, '.hermes-deploy', 'locks', 'texasca_api')
const children: ChildProcess[] = []

function holder(commit: string, options: { timeoutSec?: number; staleSec?: number } = {}) {
  const [cmd, ...args] = lockCommand(
    'texasca/api',
    options.timeoutSec ?? 10,
    options.staleSec ?? 60,
    {
      commit,
      since: '2026-11-25T00:00:00Z'
    }
  )
  const child = spawn(cmd, args, {
    env: { PATH: process.env.PATH, HOME: home },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  children.push(child)
  let out = ''
  child.stdout.on('data', chunk => (out += chunk))
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
        } else setTimeout(check, 20)
      }
      check()
    })
  return { child, saw, exited, output: () => out }
}

afterEach(() => children.splice(0).forEach(c => c.kill('SIGKILL')))

describe('the deploy lock on the host', () => {
  it('lets one holder in at a time; the second waits, naming the first, and gets it on release', async () => {
    const first = holder('aaaaaaaaaaaa1111')
    await first.saw('acquired')
    const second = holder('bbbbbbbbbbbb2222')
    await second.saw('waiting {"commit":"aaaaaaaaaaaa1111"')
    expect(second.output()).not.toContain('acquired')
    first.child.stdin!.end('release\n')
    expect(await first.exited).toBe(0)
    await second.saw('acquired')
    second.child.stdin!.end()
    await second.exited
    expect(existsSync(lockDir)).toBe(false)
  })

  it('releases when the holder’s input closes, as when the SSH connection drops', async () => {
    const first = holder('a')
    await first.saw('acquired')
    first.child.stdin!.end()
    await first.saw('released')
    expect(existsSync(lockDir)).toBe(false)
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

  it('takes over from a holder that is alive but silent past the stale limit', async () => {
    const first = holder('silent', { staleSec: 1 })
    await first.saw('acquired')
    const second = holder('b', { staleSec: 1 })
    await second.saw('takeover no heartbeat for')
    await second.saw('acquired')
    expect(await first.exited).not.toBe(0) // the silent holder was stopped
  })

  it('gives up after the timeout, naming the holder', async () => {
    const first = holder('busy')
    await first.saw('acquired')
    const second = holder('b', { timeoutSec: 1 })
    expect(await second.exited).toBe(75)
    expect(second.output()).toContain('timeout {"commit":"busy"')
  })
})
