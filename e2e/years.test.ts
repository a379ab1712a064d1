import { beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { readFileSync } from 'node:fs'
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

jest.setTimeout(600_000)

let droplet: Droplet
let inputs: Record<string, string>
const START = readFileSync(new URL('./sample-app/start.sh', import.meta.url), 'utf8')

beforeAll(() => {
  droplet = dropletUp()
  inputs = baseInputs(droplet)
})
beforeEach(() => dropletReset())

const layers = (ref: string) =>
  Number(docker(`image inspect --format '{{len .RootFS.Layers}}' ${ref}`))
const releaseTags = () =>
  docker(`image ls --format '{{.Tag}}' ${droplet.IMAGE}`)
    .split('\n')
    .filter(tag => /^[0-9a-f]{12}$/.test(tag))
const production = () => runningContainers().find(c => c.name === droplet.CONTAINER)!

/** Remove production so the supervisor respawns it from the current tag. */
function respawn(): void {
  const old = production().id
  docker(`rm -f ${droplet.CONTAINER}`)
  sh(
    `for i in $(seq 100); do docker ps -q --filter name=^${droplet.CONTAINER}$ --no-trunc | grep -v ${old} | grep -q . && exit 0; sleep 0.2; done; exit 1`
  )
}

describe('years in production', () => {
  it('keeps deploying past Docker’s layer limit: an image aged to 120 layers is flattened, config intact', async () => {
    // One small commit per layer, as a hundred-odd runbook deploys would leave it.
    sh(`set -e; for i in $(seq 118); do
      c=$(docker create ${droplet.IMAGE}:latest); echo $i >/tmp/hermes-age; docker cp /tmp/hermes-age $c:/age
      docker commit $c ${droplet.IMAGE}:latest >/dev/null; docker rm $c >/dev/null; done`)
    const aged = layers(`${droplet.IMAGE}:latest`)
    expect(aged).toBeGreaterThanOrEqual(120)
    respawn()
    const config = imageConfig(`${droplet.IMAGE}:latest`)

    const counts: number[] = []
    for (const n of [1, 2, 3]) {
      const sha = pushCommit(droplet, `Release ${n} on an old image`, { 'greeting.txt': `${n}\n` })
      const run = await runAction(inputs, { sha })
      expect(run.code).toBe(0)
      expect(await served(droplet)).toContain(`commit=${sha}`)
      expect(imageConfig(`${droplet.IMAGE}:latest`)).toEqual(config)
      counts.push(layers(`${droplet.IMAGE}:latest`))
      if (n === 1) {
        expect(run.log).toMatch(new RegExp(`Flattened: the image had ${aged} layers`))
        expect(run.summary).toMatch(/released was written flattened|release was written flattened/)
      }
    }
    expect(counts[0]).toBeLessThanOrEqual(2)
    expect(counts).toEqual([counts[0], counts[0] + 1, counts[0] + 2])
  })

  it('keeps five releases after seven deploys, leaves no dangling image, and rolls back to the previous one', async () => {
    const shas: string[] = []
    for (const n of [1, 2, 3, 4, 5, 6, 7]) {
      shas.push(pushCommit(droplet, `Release ${n}`, { 'greeting.txt': `${n}\n` }))
      expect((await runAction(inputs, { sha: shas.at(-1) })).code).toBe(0)
    }
    settled() // retention runs on the host after each job
    expect(releaseTags().sort()).toEqual(
      shas
        .slice(2)
        .map(s => s.slice(0, 12))
        .sort()
    )
    expect(docker(`images -q --filter dangling=true`)).toBe('')

    const back = await runAction(
      { ...inputs, 'rollback-to': 'previous' },
      { event: 'workflow_dispatch', sha: shas[6] }
    )
    expect(back.code).toBe(0)
    expect(back.outputs.commit).toBe(shas[5])
    expect(await served(droplet)).toContain(`commit=${shas[5]}`)
    expect(back.summary).toContain('Rolled back')
    expect(back.summary).toMatch(/Recent deploys on this host[\s\S]*rollback \| deployed/)

    // A retained commit by its SHA; one not retained is refused, naming what is.
    const again = await runAction(
      { ...inputs, 'rollback-to': shas[3] },
      { event: 'workflow_dispatch', sha: shas[6] }
    )
    expect(again.code).toBe(0)
    expect(await served(droplet)).toContain(`commit=${shas[3]}`)
    const gone = await runAction(
      { ...inputs, 'rollback-to': shas[0] },
      { event: 'workflow_dispatch', sha: shas[6] }
    )
    expect(gone.code).not.toBe(0)
    expect(gone.log).toMatch(/No retained release matches `rollback-to: [0-9a-f]+`\. Retained: /)

    // Deploying an older commit is not a way back: it points to rollback-to.
    const older = await runAction(inputs, { sha: shas[1] })
    expect(older.log).toMatch(/To go back to an older release, use `rollback-to`/)
  })

  it('stops a release that cannot start at the canary, production untouched', async () => {
    const before = production()
    const sha = pushCommit(droplet, 'Release that exits at start', {
      'start.sh': START.replace(
        'exec busybox httpd',
        'echo "start.sh: missing DATABASE_URL" >&2; exit 4; exec busybox httpd'
      )
    })
    const run = await runAction({ ...inputs, 'canary-seconds': '3' }, { sha })
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(
      /Deploy failed at "Canary": The canary of [0-9a-f]{12} failed; production is untouched/
    )
    expect(run.log).toMatch(/exit=4/)
    expect(run.log).toContain('start.sh: missing DATABASE_URL')
    expect(production()).toEqual(before)
    expect(imageId(`${droplet.IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    settled()
    // This droplet's containers only: another instance (the benchmark's) may share the daemon.
    expect(
      docker(`ps -a --format '{{.Names}}'`)
        .split('\n')
        .filter(name => name.startsWith(droplet.CONTAINER))
    ).not.toContainEqual(expect.stringMatching(/canary|admin/))
  })

  it('rolls back a release that crashes after 3 s, in the stability window, naming the exit code and the log line', async () => {
    const sha = pushCommit(droplet, 'Release that crashes after 3 s', {
      // The server runs in the background; the script (the container's main process) dies after 3 s.
      'start.sh': START.replace(
        /^exec (busybox httpd .*)$/m,
        '$1 &\nsleep 3\necho "start.sh: fatal: out of widgets" >&2\nexit 7'
      )
    })
    const run = await runAction(
      { ...inputs, 'canary-seconds': '1', 'stable-seconds': '8' },
      { sha }
    )
    expect(run.code).not.toBe(0)
    expect(run.outputs['rolled-back']).toBe('true')
    expect(run.log).toMatch(/did not stay up for 8 s \(`stable-seconds`\)/)
    expect(run.log).toMatch(/exit=7/)
    expect(run.log).toContain('fatal: out of widgets')
    expect(await served(droplet)).toContain(`commit=${droplet.BASELINE_COMMIT}`)
  })
})
