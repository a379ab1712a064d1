import { describe, expect, it } from '@jest/globals'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { FakeShell, removal } from '../__fixtures__/fake-shell.js'
import { imageRef, type Settings } from '../src/inputs.js'
import { recover } from '../src/post.js'

const OLD = 'sha256:' + 'a'.repeat(64)
const NEW = 'sha256:' + 'b'.repeat(64)
const settings = {
  image: imageRef('texasca/api'),
  lockTimeoutSec: 5,
  respawnTimeoutSec: 5,
  healthTimeoutSec: 5,
  healthCommand: 'true'
} as Settings
const holder = { commit: 'abc', since: 'now' }

const container = (id: string, name: string, image: string, process = ['start.sh']) =>
  JSON.stringify({
    Id: id,
    Name: `/${name}`,
    Image: image,
    Path: process[0],
    Args: process.slice(1),
    State: { Running: true, Status: 'running' },
    Config: { Image: 'texasca/api' }
  })
const KEEP_ALIVE = ['tail', '-f', '/dev/null']

function host(tagged: string, containers: string[]): FakeShell {
  return new FakeShell()
    .on('lock', { stdout: 'acquired\n' })
    .on('survey', {
      stdout: `#inspect\n${JSON.stringify({ Id: tagged, Config: {} })}\n${containers.join('\n')}\n`
    })
    .on('waitForContainer', { stdout: `${'f'.repeat(64)} texasca-api\n` })
    .on('health', { stdout: 'passed on attempt 1\n' })
}

async function runPost(shell: FakeShell, progress: Parameters<typeof recover>[1]) {
  const runner = new FakeRunner()
  await recover(settings, progress, { runner, holder, connect: async () => shell })
  return runner
}

describe('the post step after a cancelled or killed deploy', () => {
  it('does nothing when the main step finished', async () => {
    const shell = host(OLD, [])
    const runner = await runPost(shell, { phase: 'done' })
    expect(shell.commands).toHaveLength(0)
    expect(runner.log.join()).toMatch(/nothing to clean up/)
  })

  it('leaves alone an admin container a person made (it runs a shell, not the keep-alive)', async () => {
    const shell = host(OLD, [
      container('c'.repeat(64), 'texasca-api', OLD),
      container('e'.repeat(64), 'texasca-api-admin', OLD, ['/bin/bash'])
    ])
    const runner = await runPost(shell, { phase: 'admin', adminContainer: 'texasca-api-admin' })
    expect(shell.ran(removal('e'.repeat(64)))).toBe(false)
    expect(runner.warnings.join('\n')).toMatch(/Left texasca-api-admin alone.*runs \/bin\/bash/)
  })

  it('removes the admin container left behind, under the lock, and leaves production alone', async () => {
    const shell = host(OLD, [
      container('c'.repeat(64), 'texasca-api', OLD),
      container('e'.repeat(64), 'texasca-api-admin', OLD, KEEP_ALIVE)
    ])
    await runPost(shell, { phase: 'admin', adminContainer: 'texasca-api-admin' })
    expect(shell.indexOf('lock')).toBe(0)
    expect(shell.ran(removal('e'.repeat(64)))).toBe(true)
    expect(shell.ran(/docker tag|docker rm --force c{64}/)).toBe(false)
    expect(shell.spawned[0].written.at(-1)).toBe('release\n')
    expect(shell.closed).toBe(true)
  })

  it('completes the rollback when the release was committed but not confirmed', async () => {
    const shell = host(NEW, [container('d'.repeat(64), 'texasca-api', NEW)])
    await runPost(shell, {
      phase: 'releasing',
      adminContainer: 'texasca-api-admin',
      previousImageId: OLD,
      releasedImageId: NEW
    })
    const retag = shell.indexOf(new RegExp(`docker tag ${OLD} texasca/api:latest`))
    const removeNew = shell.indexOf(removal('d'.repeat(64)))
    expect(retag).toBeGreaterThan(0)
    expect(removeNew).toBeGreaterThan(retag)
    expect(shell.ran(new RegExp(`awk -v image=.*${OLD}|sh ${OLD}`))).toBe(true)
  })

  it('leaves alone a later deploy: the tag names an image that is not this run’s release', async () => {
    // Run A was killed during its commit; run B, waiting on the lock, then deployed LATER.
    const LATER = 'sha256:' + 'c'.repeat(64)
    for (const releasedImageId of [undefined, NEW]) {
      const shell = host(LATER, [container('d'.repeat(64), 'texasca-api', LATER)])
      const runner = await runPost(shell, {
        phase: 'releasing',
        adminContainer: 'texasca-api-admin',
        previousImageId: OLD,
        releasedImageId
      })
      expect(shell.ran(/docker tag|docker rm/)).toBe(false)
      expect(runner.warnings.join('\n')).toMatch(/another deploy has changed the host/)
    }
  })

  it('finishes a rollback that was cut after the tag went back but before the release was removed', async () => {
    const shell = host(OLD, [container('d'.repeat(64), 'texasca-api', NEW)])
    await runPost(shell, {
      phase: 'releasing',
      previousImageId: OLD,
      releasedImageId: NEW
    })
    expect(shell.ran(removal('d'.repeat(64)))).toBe(true)
  })

  it('puts right every other host the rollout had started to replace, and only those', async () => {
    const first = host(OLD, [container('c'.repeat(64), 'texasca-api', OLD)])
    // h2 was re-tagged and its production removed when the run was killed; h3 was done.
    const shells: Record<string, FakeShell> = {
      h2: host(NEW, [container('d'.repeat(64), 'texasca-api', NEW)]),
      h3: host(NEW, [container('d'.repeat(64), 'texasca-api', NEW)])
    }
    const runner = new FakeRunner()
    await recover(
      { ...settings, hosts: ['h1', 'h2', 'h3'].map(h => ({ host: h, port: 22 })) },
      {
        phase: 'done',
        others: {
          'h2:22': { phase: 'releasing', previousImageId: OLD, releasedImageId: NEW },
          'h3:22': { phase: 'done', previousImageId: OLD, releasedImageId: NEW }
        }
      },
      {
        runner,
        holder,
        connect: async () => first,
        connectTo: async address => shells[address.host]
      }
    )
    expect(first.commands).toHaveLength(0)
    expect(shells.h2.ran(new RegExp(`docker tag ${OLD} texasca/api:latest`))).toBe(true)
    expect(shells.h2.ran(removal('d'.repeat(64)))).toBe(true)
    expect(shells.h3.commands).toHaveLength(0)
    expect(runner.warnings.join('\n')).toMatch(
      /The rollout stopped while replacing production on h2:22/
    )
  })

  it('changes nothing when the tag never moved', async () => {
    const shell = host(OLD, [container('c'.repeat(64), 'texasca-api', OLD)])
    await runPost(shell, {
      phase: 'releasing',
      adminContainer: 'texasca-api-admin',
      previousImageId: OLD
    })
    expect(shell.ran(/docker tag|docker rm/)).toBe(false)
  })
})
