import { beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  baseInputs,
  dropletReset,
  dropletUp,
  pushCommit,
  otherHost,
  runAction,
  settled,
  sh,
  type Droplet
} from './harness.js'

jest.setTimeout(300_000)

// A single-node Swarm on its own dockerd, a registry from Debian's docker-registry on 127.0.0.1,
// and the app as the service texasca-api (e2e/droplet/swarm.sh).
interface SwarmHost {
  PORT: string
  HOST_FINGERPRINT: string
  DOCKER_HOST: string
  APP_URL: string
  HEALTH_COMMAND: string
  SERVICE: string
  REGISTRY: string
  REGISTRY_USERNAME: string
  REGISTRY_PASSWORD: string
  BASELINE_IMAGE: string
  BASELINE_REF: string
  BASELINE_COMMIT: string
  HOME_DIR: string
}

let droplet: Droplet
let host: SwarmHost
let inputs: Record<string, string>
const BUILD = readFileSync(new URL('./sample-app/build.sh', import.meta.url), 'utf8')

beforeAll(() => {
  droplet = dropletUp() // the app's git origin, the user core and its keys
  host = otherHost<SwarmHost>('swarm', 'up')
  inputs = {
    ...baseInputs(droplet),
    port: host.PORT,
    'host-fingerprint': host.HOST_FINGERPRINT,
    'health-command': host.HEALTH_COMMAND,
    service: host.SERVICE,
    registry: host.REGISTRY,
    'registry-username': host.REGISTRY_USERNAME,
    'registry-password': host.REGISTRY_PASSWORD,
    'update-timeout': '120'
  }
})
beforeEach(() => {
  dropletReset()
  otherHost('swarm', 'reset')
})

const onSwarm = (command: string) => sh(`export DOCKER_HOST=${host.DOCKER_HOST}; ${command}`)
const serviceImage = () =>
  onSwarm(
    `docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' ${host.SERVICE}`
  )
const page = () => sh(`curl -fsS --max-time 5 ${host.APP_URL} || true`)
const taskImages = () =>
  onSwarm(
    `docker ps --filter label=com.docker.swarm.service.name=${host.SERVICE} --format '{{.ID}}' | xargs -r docker inspect --format '{{.Image}}'`
  )

describe('a Docker Swarm service fed from a registry', () => {
  it('pushes the release and lets Swarm converge on it', async () => {
    const sha = pushCommit(droplet, 'Release for the swarm', { 'greeting.txt': 'swarm\n' })
    const run = await runAction(inputs, { sha })

    expect(run.code).toBe(0)
    expect(run.outputs.deployed).toBe('true')
    expect(page()).toContain(`commit=${sha}`)
    // The service is pinned to the pushed release by digest, and its task runs that image.
    expect(serviceImage()).toMatch(
      new RegExp(
        `^${host.REGISTRY.replace(/\./g, '\\.')}/texasca/api:${sha.slice(0, 12)}@sha256:[0-9a-f]{64}$`
      )
    )
    expect(taskImages()).toBe(run.outputs['image-id'])
    expect(run.outputs['container-id']).toMatch(/^[0-9a-f]{64}$/)
    // The tag is in the registry.
    const tags = sh(
      `curl -fsS -u '${host.REGISTRY_USERNAME}:${host.REGISTRY_PASSWORD.replace(/'/g, `'\\''`)}' http://${host.REGISTRY}/v2/texasca/api/tags/list`
    )
    expect(tags).toContain(sha.slice(0, 12))
    expect(run.summary).toMatch(/### Swarm\s+Service `texasca-api`: update completed/)
    // The login was for this run only, and its password never reached the log.
    expect(existsSync(join(host.HOME_DIR, '.docker', 'config.json'))).toBe(false)
    expect(run.log).not.toContain(host.REGISTRY_PASSWORD)
    // Swarm replaced the task: no admin container (once the work after the job is done), no
    // container removed by hand.
    settled()
    expect(onSwarm(`docker ps -a --format '{{.Names}}'`)).not.toMatch(/admin|canary/)
  })

  it('reports a release that fails its health check, which Swarm rolls back', async () => {
    // The release starts, but serves nothing: the service's health check fails.
    const sha = pushCommit(droplet, 'Release that fails its health check', {
      'build.sh': BUILD.replace(
        'echo "build.sh: done"',
        'rm build/index.html\necho "build.sh: done"'
      )
    })
    const run = await runAction({ ...inputs, 'health-command': '' }, { sha })

    expect(run.code).not.toBe(0)
    expect(run.outputs.deployed).toBe('false')
    expect(run.outputs['rolled-back']).toBe('true')
    expect(run.log).toMatch(/Swarm rolled the update back/)
    expect(serviceImage()).toBe(host.BASELINE_REF)
    expect(page()).toContain(`commit=${host.BASELINE_COMMIT}`)
    expect(taskImages()).toBe(host.BASELINE_IMAGE)
    expect(run.summary).toMatch(/update rollback completed/)
  })

  it('after a run killed during the Swarm update, the post step leaves the update to Swarm', async () => {
    const sha = pushCommit(droplet, 'Release whose run is killed', { 'greeting.txt': 'killed\n' })
    const main = await runAction(inputs, {
      sha,
      killAt: { text: 'Swarm is rolling it out', signal: 'SIGKILL' }
    })
    expect(main.signal).toBe('SIGKILL')

    const post = await runAction(inputs, { sha, postOf: main })

    expect(post.code).toBe(0)
    expect(post.log).toMatch(
      /Production is the Swarm service texasca-api; Swarm finishes or rolls back its update by itself/
    )
    // Nothing of the action's undid the update: Swarm completes it.
    const deadline = Date.now() + 60_000
    while (!page().includes(`commit=${sha}`) && Date.now() < deadline) sh('sleep 1')
    expect(page()).toContain(`commit=${sha}`)
    expect(serviceImage()).toContain(`/texasca/api:${sha.slice(0, 12)}@sha256:`)
  })

  it('rolls the service back to the previous release on demand', async () => {
    const sha = pushCommit(droplet, 'Release to roll back', { 'greeting.txt': 'back\n' })
    expect((await runAction(inputs, { sha })).code).toBe(0)
    expect(page()).toContain(`commit=${sha}`)

    const run = await runAction({ ...inputs, 'rollback-to': 'previous' }, { sha })

    expect(run.code).toBe(0)
    expect(page()).toContain(`commit=${host.BASELINE_COMMIT}`)
    expect(taskImages()).toBe(host.BASELINE_IMAGE)
    expect(run.outputs.commit).toBe(host.BASELINE_COMMIT)
  })

  it('finds the service by itself from the task running `image`, and pushes where it runs from', async () => {
    const sha = pushCommit(droplet, 'Release found by its image', { 'greeting.txt': 'found\n' })
    const { service: _service, registry: _registry, ...rest } = inputs
    const run = await runAction({ ...rest, 'dry-run': 'true' }, { sha })

    expect(run.code).toBe(0)
    expect(run.log).toMatch(/a task of the Swarm service texasca-api/)
    expect(run.log).toContain(`docker push ${host.REGISTRY}/texasca/api:${sha.slice(0, 12)}`)
  })

  it('plans a Swarm deploy in a dry run, changing nothing', async () => {
    const sha = pushCommit(droplet, 'Planned release', { 'greeting.txt': 'plan\n' })
    const run = await runAction({ ...inputs, 'dry-run': 'true' }, { sha })

    expect(run.code).toBe(0)
    expect(run.log).toMatch(
      /docker push 127\.0\.0\.1:\d+\/texasca\/api:[0-9a-f]{12}; docker service update --image .* --with-registry-auth --update-failure-action rollback texasca-api/
    )
    expect(serviceImage()).toBe(host.BASELINE_REF)
  })
})
