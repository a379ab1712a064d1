import type { ContainerInfo } from './docker.js'
import { message } from './format.js'
import { DeployError, QUICK_MS, SLOW_MS, type Host } from './host.js'
import type { Settings } from './inputs.js'
import { parseKeyValues } from './key-value.js'
import {
  rollbackService as ROLLBACK,
  updateService as UPDATE,
  waitForUpdate as WAIT
} from './remote/scripts.js'
import type { Runner } from './runner.js'
import { shScript, type Command } from './shell.js'

// Production as a Docker Swarm service: the release is pushed to a registry and Swarm's own
// rolling update (health checks, monitor window, `--update-failure-action rollback`) puts it in
// production on every node. The action builds and hands over; it does not orchestrate.

/** The label Swarm puts on every task container. */
export const SERVICE_LABEL = 'com.docker.swarm.service.name'

/** The service production belongs to: the `service` input, or the task container's label. */
export function serviceOf(
  settings: Pick<Settings, 'service'>,
  production: ContainerInfo
): string | undefined {
  return settings.service ?? production.labels[SERVICE_LABEL]
}

/**
 * The registry repository releases are pushed to: `<registry>/<image repository>`, or, without
 * `registry`, the repository the service runs now (its image reference without tag and digest).
 */
export function swarmRepository(
  settings: Pick<Settings, 'registry' | 'image'>,
  runningImage: string
): string {
  const { registry, image } = settings
  if (registry)
    return image.repository.startsWith(`${registry}/`)
      ? image.repository
      : `${registry}/${image.repository}`
  return repositoryOf(runningImage)
}

/** An image reference without its tag and digest (`reg:5000/texasca/api:1@sha256:…` → `reg:5000/texasca/api`). */
export function repositoryOf(ref: string): string {
  const withoutDigest = ref.split('@')[0]
  // A tag follows the last ':' that comes after the last '/' (a registry port comes before it).
  const slash = withoutDigest.lastIndexOf('/')
  const colon = withoutDigest.lastIndexOf(':')
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest
}

/**
 * Push `ref` (a tag of `repository`) when `push`, then point the service at it, pinned by digest,
 * and let Swarm roll it out. Prints `image=` (what the service now runs) and `before=` (when the
 * previous update started, so the wait can tell the new one from it). The registry password goes
 * on stdin.
 */
export function updateService(options: {
  service: string
  ref: string
  repository: string
  registry: string
  username?: string
  push: boolean
  rollback: boolean
  /** `--update-order`; undefined: the service's own. */
  order?: string
}): Command {
  return shScript(
    UPDATE,
    options.service,
    options.ref,
    options.repository,
    options.registry,
    options.username ?? '',
    options.push ? 'yes' : 'no',
    options.rollback ? 'rollback' : 'pause',
    options.order ?? ''
  )
}

/** The registry host of a repository (`127.0.0.1:5000/texasca/api` → `127.0.0.1:5000`). */
export function registryOf(repository: string): string {
  const first = repository.split('/')[0]
  const isDomain =
    repository.includes('/') &&
    (first.includes('.') || first.includes(':') || first === 'localhost')
  return isDomain ? first : 'docker.io'
}

/**
 * Wait on the host (no round trip per poll) until the update that started after `before` ends:
 * completed, paused, or rolled back by Swarm; or until the timeout.
 */
export function waitForUpdate(service: string, before: string, timeoutSec: number): Command {
  return shScript(WAIT, service, before, String(timeoutSec))
}

/** The service's update state, its message and the image its spec names, on one line. */
export function swarmStatus(service: string): Command {
  return [
    'docker',
    'service',
    'inspect',
    '--format',
    '{{if .UpdateStatus}}{{.UpdateStatus.State}}: {{.UpdateStatus.Message}}{{else}}no update{{end}} (image {{.Spec.TaskTemplate.ContainerSpec.Image}})',
    service
  ]
}

/** Ask Swarm to put the service back on its previous spec (`docker service rollback`); prints `before=`. */
export function rollbackService(service: string): Command {
  return shScript(ROLLBACK, service)
}

interface UpdateStatus {
  state: string
  timedOut: boolean
  message: string
  /** The image the service's spec names now. */
  image: string
  /** `<running>/<wanted>` tasks when the update ended. */
  running: string
  tasks: { name: string; image: string; desired: string; current: string; error: string }[]
}

export function parseUpdate(output: string): UpdateStatus {
  const lines = parseKeyValues(output)
  return {
    state: lines.get('state'),
    timedOut: lines.get('timedout') === '1',
    message: lines.get('message'),
    image: lines.get('image'),
    running: lines.get('running'),
    tasks: lines.all('task').map(line => {
      const [name, image, desired, current, ...error] = line.split('|')
      return {
        name,
        image,
        desired,
        current,
        error: error
          .join('|')
          .trim()
          .replace(/^"(.*)"$/, '$1')
      }
    })
  }
}

/** How the rollout ended, as the deploy reports it. */
type SwarmOutcome =
  { kind: 'converged' } | { kind: 'rolled-back'; why: string } | { kind: 'stuck'; why: string }

/** Swarm's word on the update, read into what the deploy does next. */
export function readOutcome(status: UpdateStatus, timeoutSec: number): SwarmOutcome {
  const failed = status.tasks.find(t => t.error)
  const task = failed ? ` Task ${failed.name}: ${failed.current}: ${failed.error}` : ''
  const said = status.message ? ` Swarm says: ${status.message}.` : ''
  if (status.timedOut) {
    return {
      kind: 'stuck',
      why:
        `Swarm's rolling update did not finish within ${timeoutSec} s (\`update-timeout\`); it was ${status.state}` +
        (status.running ? `, ${status.running} tasks running` : '') +
        `.${said}${task}`
    }
  }
  switch (status.state) {
    case 'completed':
      return { kind: 'converged' }
    case 'rollback_completed':
      return { kind: 'rolled-back', why: `Swarm rolled the update back.${said}${task}` }
    case 'paused':
      return {
        kind: 'stuck',
        why: `Swarm paused the update (\`rollback: false\` sets \`--update-failure-action pause\`).${said}${task}`
      }
    default:
      return { kind: 'stuck', why: `Swarm's update ended ${status.state}.${said}${task}` }
  }
}

interface SwarmRelease {
  service: string
  /** `<registry>/<repository>:<tag>` as pushed (or, for a rollback, as retained). */
  ref: string
  repository: string
  /** Push before the update (a new release); a retained one is in the registry already. */
  push: boolean
}

interface SwarmResult {
  /** What the service runs now: its spec's image, pinned by digest. */
  image: string
  state: string
  message: string
  outcome: SwarmOutcome
}

/**
 * Push the release, point the service at it, and wait for Swarm to converge or roll back. When
 * Swarm neither finishes nor rolls back in time, ask it to roll back (with `rollback` on).
 */
export async function rollOutService(
  host: Host,
  runner: Runner,
  settings: Pick<
    Settings,
    'registryUsername' | 'registryPassword' | 'rollback' | 'updateTimeoutSec' | 'updateOrder'
  >,
  release: SwarmRelease
): Promise<SwarmResult> {
  const registry = registryOf(release.repository)
  const started = await host
    .run(
      updateService({
        service: release.service,
        ref: release.ref,
        repository: release.repository,
        registry,
        username: settings.registryUsername,
        push: release.push,
        rollback: settings.rollback,
        order: settings.updateOrder
      }),
      release.push
        ? `docker push ${release.ref}; docker service update ${release.service}`
        : `docker service update ${release.service}`,
      SLOW_MS,
      settings.registryPassword ? `${settings.registryPassword}\n` : undefined
    )
    .catch(error => {
      throw new DeployError(
        `${release.push ? `Pushing ${release.ref} or updating` : 'Updating'} the service ${release.service} failed; production is unchanged.\n${message(error)}\n` +
          `Check that the host can reach ${registry}${settings.registryUsername ? ' with `registry-username` and `registry-password`' : ' (set `registry-username` and `registry-password` if it needs a login)'} and that \`host\` is a Swarm manager.`
      )
    })
  const image = parseKeyValues(started).get('image')
  runner.info(`${release.service} now runs ${image}; Swarm is rolling it out`)

  const status = await waitForSwarm(
    host,
    release.service,
    parseKeyValues(started).get('before'),
    settings.updateTimeoutSec
  )
  const outcome = readOutcome(status, settings.updateTimeoutSec)
  showTasks(runner, status)
  // Out of time on our update (not on Swarm's own rollback of it, which a rollback would undo).
  if (
    outcome.kind === 'stuck' &&
    status.timedOut &&
    settings.rollback &&
    !status.state.startsWith('rollback')
  ) {
    runner.warning(`${outcome.why} Asking Swarm to roll back.`, 'Swarm update')
    const back = await rollBackService(host, runner, settings, release.service)
    if (back.outcome.kind === 'rolled-back') back.outcome.why = outcome.why
    return back
  }
  return { image: status.image || image, state: status.state, message: status.message, outcome }
}

/** Ask Swarm to put the service back on its previous spec, and wait until it has. */
export async function rollBackService(
  host: Host,
  runner: Runner,
  settings: Pick<Settings, 'updateTimeoutSec'>,
  service: string
): Promise<SwarmResult> {
  const before = parseKeyValues(
    await host.run(rollbackService(service), `docker service rollback ${service}`)
  ).get('before')
  const status = await waitForSwarm(host, service, before, settings.updateTimeoutSec)
  showTasks(runner, status)
  const read = readOutcome(status, settings.updateTimeoutSec)
  const outcome: SwarmOutcome =
    status.state === 'rollback_completed'
      ? { kind: 'rolled-back', why: 'Swarm rolled the service back.' }
      : {
          kind: 'stuck',
          why: `The rollback did not complete: ${'why' in read ? read.why : `it ended ${status.state}.`}`
        }
  return { image: status.image, state: status.state, message: status.message, outcome }
}

async function waitForSwarm(
  host: Host,
  service: string,
  before: string,
  timeoutSec: number
): Promise<UpdateStatus> {
  return parseUpdate(
    await host.run(
      waitForUpdate(service, before, timeoutSec),
      'wait for the Swarm update',
      timeoutSec * 1000 + QUICK_MS
    )
  )
}

function showTasks(runner: Runner, status: UpdateStatus): void {
  for (const task of status.tasks) {
    runner.info(
      `  ${task.name} ${task.image.split('@')[0]} ${task.desired}/${task.current}${task.error ? ` ${task.error}` : ''}`
    )
  }
}
