import {
  commitAndInspect as COMMIT_AND_INSPECT,
  health as HEALTH,
  httpReady as HTTP_READY,
  listTags as LIST_TAGS,
  removeIfPresent as REMOVE_IF_PRESENT,
  stopGracefully as STOP_GRACEFULLY,
  survey as SURVEY,
  waitForContainer as WAIT_FOR_CONTAINER
} from './remote/scripts.js'
import { shScript, type Command } from './shell.js'

/** The parts of an image's config that a release must carry over unchanged. */
export interface ImageConfig {
  Entrypoint?: string[] | null
  Cmd?: string[] | null
  Env?: string[] | null
  WorkingDir?: string
  User?: string
  ExposedPorts?: Record<string, unknown> | null
  Labels?: Record<string, string> | null
  Volumes?: Record<string, unknown> | null
  StopSignal?: string
  Healthcheck?: unknown
}

const CARRIED_CONFIG: (keyof ImageConfig)[] = [
  'Entrypoint',
  'Cmd',
  'Env',
  'WorkingDir',
  'User',
  'ExposedPorts',
  'Labels',
  'Volumes',
  'StopSignal',
  'Healthcheck'
]

export interface ImageInfo {
  id: string
  config: ImageConfig
  layers: number
}

export interface ContainerInfo {
  id: string
  name: string
  /** The image ID the container runs. */
  imageId: string
  /** The image as named when the container was created (`texasca/api`). */
  imageName: string
  running: boolean
  status: string
  created: string
  networkMode: string
  env: string[]
  user: string
  /** Open `docker exec` sessions: someone (or something) is working inside. */
  execIds: string[]
  /** The process it runs, as started: [Path, ...Args]. */
  process: string[]
  /** How it was run, to start it again when no supervisor does. */
  cmd: string[] | null
  binds: string[]
  portBindings: Record<string, { HostIp?: string; HostPort?: string }[] | null>
  restartPolicy: string
  autoRemove: boolean
  /** Run with `--init`: a small init is PID 1 and passes the stop signal on. */
  init: boolean
  /** Swarm labels its task containers with their service (`com.docker.swarm.service.name`). */
  labels: Record<string, string>
  /** `docker inspect` as it came: what recreating the container exactly needs (src/recreate.ts). */
  inspect?: Json
}

/** What runs on the host, read in one round trip. */
export interface HostSurvey {
  image?: ImageInfo
  containers: ContainerInfo[]
  /** By container ID: `git rev-parse HEAD` at the repo path in it, and its exit code. */
  heads: Map<string, { code: number; output: string }>
  /** The last lines of the host's deploy history for the image, when asked for. */
  history?: string
}

/**
 * `docker ps` and the inspects, in one `docker inspect`: of `image` and of every container. With
 * `repoPath`, also the commit checked out in each running container that may be production
 * (running `image`, or its `alias`, or named `container`): it saves the round trip that would
 * read it from production once picked. With `history`, the last deploys in that history.
 */
export function survey(
  image: string,
  read: { alias?: string; repoPath?: string; container?: string; history?: string } = {}
): Command {
  const { alias = '', repoPath = '', container = '', history = '' } = read
  return shScript(SURVEY, image, alias, repoPath, container, history)
}

export function parseSurvey(output: string): HostSurvey {
  const sections = new Map<string, string>()
  const parts = output.split(/^#(inspect|heads|history)$/m)
  for (let i = 1; i + 1 < parts.length; i += 2) sections.set(parts[i], parts[i + 1])
  const inspects: Json[] = (sections.get('inspect') ?? '')
    .split('\n')
    .map(line => line.trim())
    .filter(line => line.startsWith('{'))
    .map(line => JSON.parse(line))
  // An image's ID is `sha256:…`; a container's is bare hex.
  const isImage = (raw: Json) => String(raw.Id).startsWith('sha256:')
  const tagged = inspects.find(isImage)
  const image = tagged ? parseImage(tagged) : undefined
  const containers = inspects.filter(raw => !isImage(raw)).map(parseContainer)
  const heads = new Map<string, { code: number; output: string }>()
  for (const line of (sections.get('heads') ?? '').split('\n')) {
    const [id, code, encoded = ''] = line.trim().split(' ')
    if (id && code) {
      heads.set(id, {
        code: Number(code),
        output: Buffer.from(encoded, 'base64').toString('utf8').trim()
      })
    }
  }
  return { image, containers, heads, history: sections.get('history') }
}

export type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

export function parseImage(raw: Json): ImageInfo {
  return {
    id: raw.Id,
    config: raw.Config ?? {},
    layers: raw.RootFS?.Layers?.length ?? 0
  }
}

function parseContainer(raw: Json): ContainerInfo {
  return {
    id: raw.Id,
    name: String(raw.Name ?? '').replace(/^\//, ''),
    imageId: raw.Image,
    imageName: raw.Config?.Image ?? '',
    running: raw.State?.Running === true,
    status: raw.State?.Status ?? 'unknown',
    created: raw.Created ?? '',
    networkMode: raw.HostConfig?.NetworkMode ?? 'default',
    env: raw.Config?.Env ?? [],
    user: raw.Config?.User ?? '',
    execIds: raw.ExecIDs ?? [],
    process: [raw.Path, ...(raw.Args ?? [])].filter(
      (part): part is string => typeof part === 'string'
    ),
    cmd: raw.Config?.Cmd ?? null,
    binds: raw.HostConfig?.Binds ?? [],
    portBindings: raw.HostConfig?.PortBindings ?? {},
    restartPolicy: raw.HostConfig?.RestartPolicy?.Name ?? '',
    autoRemove: raw.HostConfig?.AutoRemove === true,
    init: raw.HostConfig?.Init === true,
    labels: raw.Config?.Labels ?? {},
    inspect: raw
  }
}

export function inspectImage(ref: string): Command {
  return ['docker', 'image', 'inspect', '--format', '{{json .}}', ref]
}

/** A keep-alive that any image with a shell userland has; the container only hosts `docker exec`s. */
const KEEP_ALIVE = ['tail', '-f', '/dev/null']

/** An admin container this action made (a person's, made by the runbook's script, runs a shell). */
export function isOurAdmin(container: ContainerInfo): boolean {
  return JSON.stringify(container.process) === JSON.stringify(KEEP_ALIVE)
}

/**
 * The admin container: a detached copy of production's image with production's network and user,
 * kept alive without a terminal. When the image has an ENTRYPOINT it is replaced by the keep-alive
 * (and restored on commit); otherwise only the command is, because `docker commit --change
 * 'ENTRYPOINT []'` cannot clear an entrypoint the container was given.
 */
export function runAdmin(options: {
  name: string
  imageId: string
  hasEntrypoint: boolean
  networkMode: string
  user?: string
}): Command {
  const args = ['docker', 'run', '--detach', '--name', options.name]
  if (options.networkMode && options.networkMode !== 'default')
    args.push('--network', options.networkMode)
  if (options.user) args.push('--user', options.user)
  if (options.hasEntrypoint) {
    args.push('--entrypoint', KEEP_ALIVE[0], options.imageId, ...KEEP_ALIVE.slice(1))
  } else {
    args.push(options.imageId, ...KEEP_ALIVE)
  }
  return args
}

/**
 * `docker exec` in a container. With `envFromStdin` the CLI reads an env-file from standard input:
 * values reach the process without ever being on a command line on the host.
 */
export function exec(
  container: string,
  command: Command,
  options: { workdir?: string; envFromStdin?: boolean; interactive?: boolean } = {}
): Command {
  const args = ['docker', 'exec']
  if (options.interactive) args.push('--interactive')
  if (options.workdir) args.push('--workdir', options.workdir)
  if (options.envFromStdin) args.push('--env-file', '/dev/stdin')
  return [...args, container, ...command]
}

/**
 * `docker commit` that restores what the admin container changed: a plain commit takes the
 * keep-alive as the image's CMD (and ENTRYPOINT), and the respawned container would never start
 * the app. ENTRYPOINT comes first because setting it clears CMD, as in a Dockerfile.
 */
export function commit(options: {
  container: string
  /** The tag to give the image; without one it is known by the ID `docker commit` prints. */
  image?: string
  original: ImageConfig
  adminUser?: string
  message: string
}): Command {
  const { original } = options
  const changes: string[] = []
  if (hasEntrypoint(original)) changes.push(`ENTRYPOINT ${JSON.stringify(original.Entrypoint)}`)
  changes.push(`CMD ${JSON.stringify(original.Cmd ?? [])}`)
  if (options.adminUser) changes.push(`USER ${original.User || 'root'}`)
  return [
    'docker',
    'commit',
    ...changes.flatMap(change => ['--change', change]),
    '--message',
    options.message,
    options.container,
    ...(options.image ? [options.image] : [])
  ]
}

/** Commit (`commitCommand`, untagged) and print the new image's inspect, in one round trip. */
export function commitAndInspect(commitCommand: Command): Command {
  return shScript(COMMIT_AND_INSPECT, ...commitCommand)
}

export function hasEntrypoint(config: ImageConfig): boolean {
  return Array.isArray(config.Entrypoint) && config.Entrypoint.length > 0
}

/**
 * Start a container as `like` was started (name, network, user, volumes, ports, restart policy,
 * command), from another image. Its environment is read from stdin as an env-file. A `canary`
 * is a throwaway copy: its own name, no network at all, nothing published, no restarts.
 */
export function runLike(
  like: ContainerInfo,
  imageId: string,
  image: ImageConfig,
  canary?: { name: string }
): Command {
  const args = [
    'docker',
    'run',
    '--detach',
    '--name',
    canary?.name ?? like.name,
    '--env-file',
    '/dev/stdin'
  ]
  if (canary) args.push('--network', 'none')
  else if (like.networkMode && like.networkMode !== 'default')
    args.push('--network', like.networkMode)
  if (like.user) args.push('--user', like.user)
  for (const bind of canary ? [] : like.binds) args.push('--volume', bind)
  for (const [port, bindings] of Object.entries(canary ? {} : like.portBindings)) {
    for (const b of bindings ?? []) {
      args.push('--publish', `${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort ?? ''}:${port}`)
    }
  }
  if (!canary && like.restartPolicy && like.restartPolicy !== 'no')
    args.push('--restart', like.restartPolicy)
  if (!canary && like.autoRemove) args.push('--rm')
  if (like.init) args.push('--init')
  args.push(imageId, ...commandOf(like, image))
  return args
}

/** The command `like` was given when it differs from its image's CMD (`docker run <image> …`). */
function commandOf(like: ContainerInfo, image: ImageConfig): string[] {
  const cmdChanged = JSON.stringify(like.cmd ?? null) !== JSON.stringify(image.Cmd ?? null)
  return cmdChanged && like.cmd ? like.cmd : []
}

/** Marks a stand-in; its value is the production container it stands in for. */
export const STANDIN_LABEL = 'hermes-deploy.standin'

/** Where a stand-in serves instead of production. */
export interface StandinPlace {
  name: string
  /** The host port production serves on. */
  appPort: number
  /** The host port the stand-in serves on. */
  port: number
  /** On the host network: the variable the app reads its port from. */
  variable: string
}

/**
 * Start a stand-in of `like` from another image: the same network, user, volumes, environment
 * (stdin, as an env-file) and command, its own name, serving on another host port — on the host
 * network through the variable the app reads its port from, else by publishing the container port
 * that production publishes on `appPort`. No restart policy: the action removes it.
 */
export function runStandin(
  like: ContainerInfo,
  imageId: string,
  image: ImageConfig,
  standin: StandinPlace
): Command {
  const args = ['docker', 'run', '--detach', '--name', standin.name, '--env-file', '/dev/stdin']
  args.push('--label', `${STANDIN_LABEL}=${like.name}`)
  if (like.networkMode && like.networkMode !== 'default') args.push('--network', like.networkMode)
  if (like.networkMode === 'host') {
    args.push('--env', `${standin.variable}=${standin.port}`)
  } else {
    const published = publishedOn(like, standin.appPort)
    for (const { port, b } of published)
      args.push('--publish', `${b.HostIp ? `${b.HostIp}:` : ''}${standin.port}:${port}`)
  }
  if (like.user) args.push('--user', like.user)
  for (const bind of like.binds) args.push('--volume', bind)
  if (like.init) args.push('--init')
  args.push(imageId, ...commandOf(like, image))
  return args
}

/** The container ports `like` publishes as host port `hostPort`, with their bindings. */
export function publishedOn(
  like: ContainerInfo,
  hostPort: number
): { port: string; b: { HostIp?: string } }[] {
  return Object.entries(like.portBindings).flatMap(([port, bindings]) =>
    (bindings ?? []).filter(b => b.HostPort === String(hostPort)).map(b => ({ port, b }))
  )
}

/** Wait up to `timeoutSec` for `url` to answer HTTP 2xx or 3xx, polling from the host. */
export function httpReady(url: string, timeoutSec: number): Command {
  return shScript(HTTP_READY, url, String(timeoutSec))
}

/** The tags of a repository with their image IDs and commit messages, newest first. */
export function listTags(repository: string): Command {
  return shScript(LIST_TAGS, repository)
}

interface TagInfo {
  tag: string
  id: string
  /** The commit message: `hermes-deploy <sha> <repository>` for a release this action made. */
  comment: string
}

export function parseTags(output: string): TagInfo[] {
  return output
    .split('\n')
    .map(line => line.trim())
    .filter(Boolean)
    .map(line => {
      const [tag, id, ...comment] = line.split(' ')
      return { tag, id, comment: comment.join(' ') }
    })
}

export function tag(source: string, target: string): Command {
  return ['docker', 'tag', source, target]
}

export function removeContainer(container: string): Command {
  return ['docker', 'rm', '--force', container]
}

/**
 * Remove a container that may go by itself meanwhile (a crashing `--rm` container, one the
 * supervisor replaces): succeeds when it is gone either way, fails only when it is still there.
 */
export function removeIfPresent(container: string): Command {
  return shScript(REMOVE_IF_PRESENT, container)
}

/**
 * Stop a container with its own stop signal, give it `timeoutSec` (undefined: its own
 * StopTimeout, else Docker's 10 s) to finish what it is doing before Docker kills it, then remove
 * it: requests in flight finish, where `docker rm -f` would cut them. Prints `stop-timed-out=<s>`
 * when it had to be killed; succeeds when the container is gone, as `removeIfPresent`. `then`:
 * `keep` it, stopped; `auto` when it runs with `--rm` (Docker removes it, no call to wait for).
 */
export function stopGracefully(
  container: string,
  timeoutSec?: number,
  then: 'remove' | 'keep' | 'auto' = 'remove'
): Command {
  return shScript(
    STOP_GRACEFULLY,
    container,
    timeoutSec === undefined ? '' : String(timeoutSec),
    then === 'remove' ? '' : then
  )
}

/** How `stopGracefully` ends with a container: Docker removes one run with `--rm`. */
export const removal = (container: ContainerInfo): 'remove' | 'auto' =>
  container.autoRemove ? 'auto' : 'remove'

/** Rename a container (`docker rename`), e.g. to keep a stopped production beside its release. */
export function renameContainer(container: string, name: string): Command {
  return ['docker', 'rename', container, name]
}

/** Start a stopped container again, as it was. */
export function startContainer(container: string): Command {
  return ['docker', 'start', container]
}

/**
 * How long a container may take to stop, from its inspect (its StopTimeout, else Docker's 10 s):
 * known here, the stop needs no `docker inspect` of its own. Undefined without the inspect.
 */
export function ownStopTimeout(container: ContainerInfo): number | undefined {
  if (!container.inspect) return undefined
  const own: unknown = container.inspect.Config?.StopTimeout
  return typeof own === 'number' && own >= 0 ? own : 10
}

/** What `stopGracefully` said of a container that did not stop in time, for the log. */
export function stopTimedOut(output: string): string | undefined {
  const seconds = /^stop-timed-out=(\d+)$/m.exec(output)?.[1]
  return (
    seconds &&
    `did not stop within ${seconds} s of its stop signal (\`stop-timeout\`), so Docker killed it. ` +
      'An app that runs as PID 1 must exit on SIGTERM itself: handle it, or have the supervisor start the container with `docker run --init`; or lower `stop-timeout`'
  )
}

/** Config fields that differ between two images, by name. */
export function configDrift(before: ImageConfig, after: ImageConfig): string[] {
  const normal = (value: unknown) =>
    value === undefined ||
    value === null ||
    value === '' ||
    (Array.isArray(value) && value.length === 0)
      ? null
      : JSON.stringify(value)
  return CARRIED_CONFIG.filter(key => normal(before[key]) !== normal(after[key]))
}

/**
 * Wait on the host (no round trip per poll) for a running container of exactly this image ID,
 * other than `ignore`. Prints `<id> <name>`; exits 124 on timeout.
 */
export function waitForContainer(imageId: string, timeoutSec: number, ignore: string): Command {
  return shScript(WAIT_FOR_CONTAINER, imageId, String(timeoutSec), ignore)
}

/** Run the user's health command on the host until it passes or the timeout expires. */
export function healthCheck(command: string, timeoutSec: number): Command {
  return shScript(HEALTH, command, String(timeoutSec))
}
