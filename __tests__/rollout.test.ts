import { describe, expect, it } from '@jest/globals'
import { FakeRunner } from '../__fixtures__/fake-runner.js'
import { FakeShell } from '../__fixtures__/fake-shell.js'
import { imageRef, type HostAddress, type Settings } from '../src/inputs.js'
import { foldRollout, rollOut } from '../src/rollout.js'
import type { DeployReport } from '../src/deploy.js'

const OLD = 'sha256:' + 'a'.repeat(64)
const NEW = 'sha256:' + 'b'.repeat(64)
const hosts: HostAddress[] = ['h1', 'h2', 'h3', 'h4'].map(host => ({ host, port: 22 }))
const settings = {
  hosts,
  maxParallel: 1,
  image: imageRef('texasca/api'),
  lockTimeoutSec: 5,
  respawnTimeoutSec: 5,
  healthTimeoutSec: 5,
  healthCommand: 'true',
  stableSeconds: 0,
  rollback: true,
  keepReleases: 5
} as Settings

const production = (image: string) =>
  JSON.stringify({
    Id: 'c'.repeat(64),
    Name: '/texasca-api',
    Image: image,
    State: { Running: true, Status: 'running' },
    Config: { Image: 'texasca/api' }
  })

/** A host whose production runs `image`; `healthy` says whether the release passes there. */
function host(image: string, { hasRelease = false, healthy = true } = {}): FakeShell {
  let healthChecks = 0
  return (
    new FakeShell()
      .on('lock', { stdout: 'acquired\n' })
      .on('survey', {
        stdout: `#inspect\n${JSON.stringify({ Id: image, Config: {} })}\n${production(image)}\n`
      })
      .on(new RegExp(`image inspect --format '\\{\\{json \\.\\}\\}' ${NEW}`), {
        code: hasRelease ? 0 : 1
      })
      .on(/docker load/, { stdout: `Loaded image ID: ${NEW}\n` })
      .on('waitForContainer', script => ({
        stdout: `${'d'.repeat(64)}\n${script.includes(NEW) ? 'e' : 'f'}${'0'.repeat(63)} texasca-api\n`
      }))
      // The release's health check fails where it is not healthy; the rollback's passes.
      .on('health', () =>
        healthy || ++healthChecks > 1 ? { stdout: 'passed\n' } : { code: 1, stdout: 'down\n' }
      )
  )
}

async function run(shells: Record<string, FakeShell>, source: FakeShell) {
  const runner = new FakeRunner()
  const progress: string[] = []
  const results = await rollOut(settings, { imageId: NEW, commit: 'f'.repeat(40) }, source, {
    runner,
    holder: { commit: 'x', since: 'now' },
    connectTo: async address => shells[address.host],
    progress: (host, p) => progress.push(`${host} ${p.phase}`)
  })
  return { results, runner, progress }
}

describe('rolling one build out to several hosts', () => {
  it('streams the image from the first host to a host that lacks it, then replaces production there', async () => {
    const source = new FakeShell().on(/docker save/, { stdout: 'IMAGE-ARCHIVE-BYTES' })
    const shells = { h2: host(OLD), h3: host(OLD, { hasRelease: true }), h4: host(NEW) }
    const { results } = await run(shells, source)

    expect(results.map(r => [r.host, r.outcome])).toEqual([
      ['h2:22', 'deployed'],
      ['h3:22', 'deployed'],
      ['h4:22', 'unchanged']
    ])
    expect(source.commands.filter(c => c.includes('docker save'))).toEqual([`docker save ${NEW}`])
    expect(shells.h2.piped.get('docker load')).toBe('IMAGE-ARCHIVE-BYTES')
    expect(shells.h3.ran(/docker load/)).toBe(false)
    expect(shells.h2.ran(new RegExp(`docker tag ${NEW} texasca/api:latest`))).toBe(true)
    expect(shells.h4.ran(/docker tag|docker rm/)).toBe(false)
    for (const shell of Object.values(shells)) expect(shell.closed).toBe(true)
  })

  it('leaves out of the stream the layers a host already has, from the bottom up', async () => {
    const source = new FakeShell()
      .on(/docker save/, { stdout: 'ARCHIVE-WITHOUT-SHARED-LAYERS' })
      .on(/RootFS.Layers/, { stdout: '["sha256:l1","sha256:l2","sha256:l3"]\n' })
    // h2 runs the previous release (l1, l2) and has an unrelated image sharing only l1.
    const h2 = host(OLD).on(/RootFS.Layers/, {
      stdout: '["sha256:l1","sha256:l2"]\n["sha256:l1","sha256:x9"]\n'
    })
    const { results, runner } = await run({ h2, h3: host(NEW), h4: host(NEW) }, source)

    expect(results[0].outcome).toBe('deployed')
    const save = source.commands.filter(c => c.includes('docker save'))
    expect(save.at(-1)).toMatch(/tar --delete -f - -T [^']*' sh sha256:b{64} 2 3$/)
    expect(h2.piped.get('docker load')).toBe('ARCHIVE-WITHOUT-SHARED-LAYERS')
    expect(runner.log.join('\n')).toMatch(/2 layers it had were not sent/)
  })

  it('sends the whole image when loading only the missing layers fails', async () => {
    let loads = 0
    const source = new FakeShell()
      .on(/docker save/, script => ({ stdout: script.includes('tar --delete') ? 'PART' : 'WHOLE' }))
      .on(/RootFS.Layers/, { stdout: '["sha256:l1","sha256:l2"]\n' })
    const h2 = host(OLD)
      .on(/RootFS.Layers/, { stdout: '["sha256:l1"]\n' })
      .on(/docker load/, () =>
        ++loads === 1
          ? { code: 1, stderr: 'open a1/layer.tar: no such file or directory' }
          : { stdout: `Loaded image ID: ${NEW}\n` }
      )
    const { results, runner } = await run({ h2, h3: host(NEW), h4: host(NEW) }, source)

    expect(results[0].outcome).toBe('deployed')
    expect(runner.warnings.join('\n')).toMatch(
      /Sending only the layers h2:22 lacks failed .*no such file or directory.*; sending the whole image/
    )
    expect(h2.piped.get('docker load')).toBe('WHOLE')
  })

  it('stops at the first host that fails, rolls it back, and leaves the rest untouched', async () => {
    const source = new FakeShell().on(/docker save/, { stdout: 'x' })
    const shells = {
      h2: host(OLD, { hasRelease: true }),
      h3: host(OLD, { hasRelease: true, healthy: false }),
      h4: host(OLD)
    }
    const { results, progress } = await run(shells, source)

    // Each host is marked for the post step from its re-tag until confirmed or rolled back.
    expect(progress).toEqual(['h2:22 releasing', 'h2:22 done', 'h3:22 releasing', 'h3:22 done'])
    expect(results.map(r => [r.host, r.outcome])).toEqual([
      ['h2:22', 'deployed'],
      ['h3:22', 'rolled-back'],
      ['h4:22', 'not reached']
    ])
    expect(shells.h3.ran(new RegExp(`docker tag ${OLD} texasca/api:latest`))).toBe(true)
    expect(shells.h4.commands).toEqual([])
    // Each host replaced keeps its own history line.
    expect(shells.h2.ran(/hermes-deploy\/history.*"result":"deployed"/s)).toBe(true)
    expect(
      shells.h3.ran(/hermes-deploy\/history.*"result":"rolled-back".*"reason":"The health command/s)
    ).toBe(true)

    const report = { outcome: 'deployed', host: 'h1:22', imageId: NEW } as DeployReport
    foldRollout(report, results)
    expect(report.outcome).toBe('failed')
    expect(report.reason).toMatch(
      /The rollout stopped at h3:22: [\s\S]*Not reached, left as they were: h4:22\./
    )
    // The host rolled back says which image it is back on.
    expect(results[1]).toMatchObject({ outcome: 'rolled-back', imageId: OLD })
    expect(results[0]).toMatchObject({ outcome: 'deployed', commit: 'f'.repeat(40), imageId: NEW })
    expect(report.hosts?.map(h => h.outcome)).toEqual([
      'deployed',
      'deployed',
      'rolled-back',
      'not reached'
    ])
  })
})
