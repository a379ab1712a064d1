import { describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { saveWithout } from '../src/rollout.js'
import type { Command } from '../src/shell.js'
import { updateService } from '../src/swarm.js'

// Remote scripts that keep secrets or large files in a temporary directory must remove it when a
// cancelled run's session signals them, under dash as under bash (dash runs an EXIT trap on a
// signal only when the signal's own trap exits): run here under the machine's real sh, with a
// `docker` on PATH that hangs until it is killed.

function withHangingDocker() {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-cancel-'))
  const bin = join(dir, 'bin')
  const tmp = join(dir, 'tmp')
  mkdirSync(bin)
  mkdirSync(tmp)
  writeFileSync(
    join(bin, 'docker'),
    '#!/bin/sh\necho "$*" >>"$TMPDIR/../docker.log"\ncat >/dev/null\nexec sleep 30\n',
    { mode: 0o755 }
  )
  return { bin, tmp }
}

async function cancelDuring(command: Command, signal: NodeJS.Signals, stdin = '') {
  const { bin, tmp } = withHangingDocker()
  const [cmd, ...args] = command
  const child = spawn(cmd, args, {
    env: { PATH: `${bin}:${process.env.PATH}`, TMPDIR: tmp },
    stdio: ['pipe', 'ignore', 'ignore'],
    // Its own process group: the signal goes to the script and to the docker it waits on, as
    // when the session that ran them ends.
    detached: true
  })
  child.stdin.end(stdin)
  // Wait until the script made its directory and reached docker.
  for (let i = 0; i < 100 && readdirSync(tmp).length === 0; i++)
    await new Promise(resolve => setTimeout(resolve, 50))
  expect(readdirSync(tmp)).toHaveLength(1)
  await new Promise(resolve => setTimeout(resolve, 200))
  const exited = new Promise(resolve => child.on('close', resolve))
  process.kill(-child.pid!, signal)
  await exited
  return readdirSync(tmp)
}

describe('a remote script cancelled half-way', () => {
  it.each(['SIGTERM', 'SIGHUP', 'SIGINT'] as NodeJS.Signals[])(
    'removes the saved image archive on %s',
    async signal => {
      expect(await cancelDuring(saveWithout('sha256:abc', 1, 2), signal)).toEqual([])
    }
  )

  it.each(['SIGTERM', 'SIGHUP', 'SIGINT'] as NodeJS.Signals[])(
    "removes the registry login's DOCKER_CONFIG on %s",
    async signal => {
      const command = updateService({
        service: 'api',
        ref: '127.0.0.1:5000/texasca/api:abc',
        repository: '127.0.0.1:5000/texasca/api',
        registry: '127.0.0.1:5000',
        username: 'deployer',
        push: true,
        rollback: true
      })
      expect(await cancelDuring(command, signal, 'hunter2\n')).toEqual([])
    }
  )
})
