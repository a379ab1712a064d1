import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import {
  baseInputs,
  docker,
  dropletReset,
  dropletUp,
  imageId,
  pushCommit,
  runAction,
  type Droplet
} from './harness.js'

// A droplet that keeps its app alive with Docker's restart policy, not a supervisor: production is
// `docker run --restart unless-stopped` with a spread of settings, beside the supervised one.

jest.setTimeout(180_000)

let droplet: Droplet
let inputs: Record<string, string>
const IMAGE = 'texasca/rp'
let CONTAINER = ''
let PORT = 0
let VOLUME = ''

/** Production as an operator started it: most of what `docker run` can be given. */
function startProduction() {
  docker(`rm -f ${CONTAINER} ${CONTAINER}-hermes-previous`)
  docker(
    [
      `run -d --name ${CONTAINER} --restart unless-stopped --network host --init`,
      `-e PORT=${PORT} -e RUNTIME_SECRET=restart-policy --label com.example.team=api`,
      `--stop-signal SIGTERM --stop-timeout 7 --tmpfs /scratch:size=1m`,
      `--add-host db.internal:127.0.0.1 --cap-drop NET_RAW --log-opt max-size=1m`,
      `--memory 256m --pids-limit 200 --workdir /srv/app -v ${VOLUME}:/data`,
      `--health-cmd 'test -f /srv/app/build/VERSION' --health-interval 5s`,
      `${IMAGE}:latest`
    ].join(' ')
  )
}

/** `docker inspect` without what differs between any two containers: IDs, times, state. */
function configOf(container: string): Record<string, unknown> {
  const raw = JSON.parse(docker(`inspect ${container}`))[0]
  return {
    Name: raw.Name,
    Config: { ...raw.Config, Image: raw.Config.Image },
    HostConfig: raw.HostConfig,
    Mounts: raw.Mounts,
    Path: raw.Path,
    Args: raw.Args
  }
}

const serves = async () => (await fetch(`http://127.0.0.1:${PORT}/`)).text()

beforeAll(() => {
  droplet = dropletUp()
  CONTAINER = `${droplet.CONTAINER}-rp`
  PORT = Number(new URL(droplet.APP_URL).port) + 5
  VOLUME = `${CONTAINER}-data`
  inputs = {
    ...baseInputs(droplet),
    image: IMAGE,
    container: CONTAINER,
    'health-command': `curl -fsS --max-time 5 http://127.0.0.1:${PORT}/ >/dev/null`,
    'canary-seconds': '0',
    'stable-seconds': '1'
  }
})
beforeEach(async () => {
  dropletReset()
  docker(`tag ${droplet.BASELINE_IMAGE} ${IMAGE}:latest`)
  startProduction()
  for (let i = 0; i < 50 && !(await serves().catch(() => '')).startsWith('commit='); i++)
    await new Promise(resolve => setTimeout(resolve, 100))
})
afterAll(() => {
  docker(`rm -f ${CONTAINER} ${CONTAINER}-hermes-previous`)
  docker(`image ls --format '{{.Repository}}:{{.Tag}}' ${IMAGE}`)
    .split('\n')
    .filter(Boolean)
    .forEach(tag => docker(`rmi ${tag}`))
})

describe('a host whose production is kept alive by its restart policy', () => {
  it('recreates production from the release with exactly its configuration, which Docker then restarts', async () => {
    const before = configOf(CONTAINER)
    const sha = pushCommit(droplet, 'Restart-policy release', { 'greeting.txt': 'rp\n' })
    const run = await runAction(inputs, { sha })
    expect(run.code).toBe(0)
    expect(run.log).toMatch(
      /comes back by its restart policy: its restart policy is unless-stopped/
    )
    expect(await serves()).toContain(`commit=${sha}`)
    const after = JSON.parse(docker(`inspect ${CONTAINER}`))[0]
    expect(after.Image).toBe(imageId(`${IMAGE}:latest`))
    expect(after.Image).not.toBe(droplet.BASELINE_IMAGE)
    // Field by field: only the image, the ID and the times differ.
    expect(configOf(CONTAINER)).toEqual(before)
    expect(docker(`ps -a --format '{{.Names}}'`).split('\n')).not.toContain(
      `${CONTAINER}-hermes-previous`
    )

    // Docker, not the action, brings it back when its process dies (`docker kill` would count as
    // a manual stop and would not be restarted).
    const pid = docker(`inspect --format '{{.State.Pid}}' ${CONTAINER}`)
    process.kill(Number(pid), 'SIGKILL')
    let restarted = ''
    for (let i = 0; i < 100; i++) {
      restarted = docker(`inspect --format '{{.RestartCount}} {{.State.Running}}' ${CONTAINER}`)
      if (restarted === '1 true') break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(restarted).toBe('1 true')
  })

  it('rolls back by starting the previous production again, the same container', async () => {
    const original = docker(`inspect --format '{{.Id}}' ${CONTAINER}`)
    const sha = pushCommit(droplet, 'Restart-policy release that fails', {
      'greeting.txt': 'fails\n'
    })
    const run = await runAction(
      {
        ...inputs,
        'health-command': `docker exec ${CONTAINER} test ! -f /srv/app/greeting.txt`,
        'health-timeout': '3'
      },
      { sha }
    )

    expect(run.code).not.toBe(0)
    expect(run.outputs['rolled-back']).toBe('true')
    expect(docker(`inspect --format '{{.Id}} {{.State.Running}}' ${CONTAINER}`)).toBe(
      `${original} true`
    )
    expect(await serves()).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(imageId(`${IMAGE}:latest`)).toBe(droplet.BASELINE_IMAGE)
    expect(docker(`ps -a --format '{{.Names}}'`).split('\n')).not.toContain(
      `${CONTAINER}-hermes-previous`
    )
  })

  it('after a kill during the swap, the post step starts the previous production again', async () => {
    const original = docker(`inspect --format '{{.Id}}' ${CONTAINER}`)
    const sha = pushCommit(droplet, 'Killed in the swap', { 'greeting.txt': 'killed\n' })
    const main = await runAction(inputs, {
      sha,
      killAt: { group: 'Replace production', signal: 'SIGKILL', delayMs: 300 }
    })
    expect(main.signal).toBe('SIGKILL')
    const post = await runAction(inputs, { sha, postOf: main })
    expect(post.code).toBe(0)
    const running = docker(`inspect --format '{{.Id}} {{.State.Running}}' ${CONTAINER}`)
    // Either the release was never started (the previous one runs on) or it was rolled back.
    expect(running).toBe(`${original} true`)
    expect(await serves()).toContain(`commit=${droplet.BASELINE_COMMIT}`)
  })

  it('rolls back to the previous release with rollback-to, again as production ran', async () => {
    const before = configOf(CONTAINER)
    const sha = pushCommit(droplet, 'Release to roll back from', { 'greeting.txt': 'back\n' })
    expect((await runAction(inputs, { sha })).code).toBe(0)
    const back = await runAction({ ...inputs, 'rollback-to': 'previous' }, { sha })
    expect(back.code).toBe(0)
    expect(await serves()).toContain(`commit=${droplet.BASELINE_COMMIT}`)
    expect(docker(`inspect --format '{{.Image}}' ${CONTAINER}`)).toBe(droplet.BASELINE_IMAGE)
    expect(configOf(CONTAINER)).toEqual(before)
  })

  it('refuses, before changing anything, a setting it cannot carry over', async () => {
    docker(`rm -f ${CONTAINER}`)
    docker(
      `run -d --name ${CONTAINER} --restart always --network host -e PORT=${PORT} -v /data ${IMAGE}:latest`
    )
    const before = docker(`inspect --format '{{.Id}}' ${CONTAINER}`)
    const sha = pushCommit(droplet, 'Anonymous volume', { 'greeting.txt': 'anon\n' })
    const run = await runAction(inputs, { sha })
    expect(run.code).not.toBe(0)
    expect(run.log).toMatch(/its anonymous volume at \/data would be a new, empty one/)
    expect(docker(`inspect --format '{{.Id}}' ${CONTAINER}`)).toBe(before)
    expect(run.log).not.toMatch(/Create the admin container/)
  })
})
