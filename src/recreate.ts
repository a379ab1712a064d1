import type { ContainerInfo, ImageConfig, Json } from './docker.js'
import { DeployError } from './host.js'
import { composeUp as COMPOSE_UP } from './remote/scripts.js'
import { shScript, type Command } from './shell.js'

/*
 * On a host where Docker's restart policy keeps production alive (`--restart unless-stopped`),
 * nothing respawns a container the action stops: `docker stop` counts as a manual stop. So the
 * action starts the release itself, as `docker run` with exactly the configuration production
 * had, read from its `docker inspect`: what the image already says is left to the image (the
 * release carries the same config), everything the container was given is given again. A setting
 * that `docker run` cannot give back stops the deploy before anything is changed, naming it.
 */

/** Compose labels the containers of a project with its name, service, directory and files. */
const COMPOSE_PROJECT = 'com.docker.compose.project'
const COMPOSE_SERVICE = 'com.docker.compose.service'
const COMPOSE_DIR = 'com.docker.compose.project.working_dir'
const COMPOSE_FILES = 'com.docker.compose.project.config_files'

/**
 * A Compose service: the release is tagged as the image the service names, and Compose recreates
 * the service alone (`up --no-deps`): its own stop grace period, its health checks with v2's
 * `--wait`, the other services untouched. Undefined when the container is not a Compose service.
 */
export function composeUp(
  container: ContainerInfo,
  image?: { name: string; repository: string }
): Recreate | undefined {
  const labels = container.labels
  const [project, service, dir] = [
    labels[COMPOSE_PROJECT],
    labels[COMPOSE_SERVICE],
    labels[COMPOSE_DIR]
  ]
  if (!project) return undefined
  if (!service || !dir) {
    throw new DeployError(
      `${container.name} is in the Compose project ${project}, but its labels do not say its service and directory (Compose before 1.25?): nothing was changed. Recreate it with a current Compose.`
    )
  }
  if (image && ![image.name, image.repository].includes(container.imageName)) {
    throw new DeployError(
      `The Compose service ${service} runs ${container.imageName}, and the release is tagged ${image.name} (\`image\`): nothing was changed. Set \`image\` to the image the compose file names.`
    )
  }
  const files = labels[COMPOSE_FILES] || 'docker-compose.yml'
  return { kind: 'compose', command: shScript(COMPOSE_UP, dir, files, project, service), stdin: '' }
}

/** The name production is kept under, stopped, until its release is confirmed. */
export function keptName(production: string): string {
  return `${production}-hermes-previous`
}

/** How production's container is brought back once it is stopped. */
export type Respawn = 'supervisor' | 'restart-policy' | 'compose'

/** Who brings production back, and why the action thinks so (for the log). */
export function detectRespawn(container: ContainerInfo): { respawn: Respawn; why: string } {
  const project = container.labels[COMPOSE_PROJECT]
  if (project) {
    return {
      respawn: 'compose',
      why: `it is the service ${container.labels[COMPOSE_SERVICE]} of the Compose project ${project}: Compose recreates it from the release`
    }
  }
  const policy = container.restartPolicy
  if (policy && policy !== 'no') {
    return {
      respawn: 'restart-policy',
      why: `its restart policy is ${policy}, which does not restart a container that is stopped: the action starts the release itself`
    }
  }
  return {
    respawn: 'supervisor',
    why: `it has no restart policy${container.autoRemove ? ' and is run with --rm' : ''}: a supervisor outside Docker respawns it from the image tag`
  }
}

/**
 * How a replacement brings production back on this host: undefined for a supervisor, or the
 * `docker run` of the release as production ran (from the tag, as production names its image).
 * Says in the log which, and why.
 */
export function recreationFor(
  respawn: 'auto' | Respawn | undefined,
  container: ContainerInfo,
  image: { name: string; repository: string },
  config: ImageConfig,
  log: (line: string) => void
): Recreate | undefined {
  const decided =
    respawn === 'auto' || respawn === undefined
      ? detectRespawn(container)
      : { respawn, why: 'as `respawn` says' }
  const by = {
    supervisor: 'its supervisor',
    'restart-policy': 'its restart policy',
    compose: 'Compose'
  }
  log(`${container.name} comes back by ${by[decided.respawn]}: ${decided.why}`)
  if (decided.respawn === 'supervisor') return undefined
  if (decided.respawn === 'compose') {
    return (
      composeUp(container, image) ??
      cannot('its Compose project', 'is not known: the container has no com.docker.compose labels')
    )
  }
  // As production names its image (`texasca/api` or `texasca/api:latest`), so inspect matches.
  const named = [image.name, image.repository].includes(container.imageName)
    ? container.imageName
    : image.name
  return recreate(container, named, config)
}

/** `docker run` of `image` as `container` was run; its environment goes on stdin. */
export interface Recreate {
  /** `run`: the action's own docker run, production kept aside; `compose`: Compose's up. */
  kind: 'run' | 'compose'
  command: Command
  stdin: string
}

/** A setting `docker run` cannot give back exactly. */
function cannot(setting: string, why: string): never {
  throw new DeployError(
    `Production's container cannot be recreated exactly: ${setting} ${why}. Nothing was changed. ` +
      'Set `respawn: supervisor` if something outside Docker restarts it, or change how it is run.'
  )
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
const nonEmpty = (value: unknown) =>
  Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null && value !== ''

/**
 * Check that `container` can be recreated exactly, before anything changes. Throws a DeployError
 * naming the first setting that cannot.
 */
export function checkRecreatable(container: ContainerInfo, image: ImageConfig): void {
  recreate(container, 'check', image)
}

/** The `docker run` that recreates `container` from `image` (a tag or an ID). */
export function recreate(container: ContainerInfo, image: string, config: ImageConfig): Recreate {
  const raw = container.inspect
  if (!raw) cannot('its configuration', 'was not read (no docker inspect)')
  const c: Json = raw.Config ?? {}
  const h: Json = raw.HostConfig ?? {}
  const own = config as Json
  const args = ['docker', 'run', '--detach', '--name', container.name, '--env-file', '/dev/stdin']
  const flag = (name: string, value: unknown) => args.push(name, String(value))

  // Settings docker run has no flag for, or that point at other containers.
  if (nonEmpty(h.Links)) cannot('--link', 'points at other containers')
  if (nonEmpty(h.VolumesFrom)) cannot('--volumes-from', 'points at another container')
  const networks = Object.keys(raw.NetworkSettings?.Networks ?? {})
  if (networks.length > 1) cannot(`its networks (${networks.join(', ')})`, 'are more than one')
  if (Array.isArray(c.Entrypoint) && c.Entrypoint.length > 1 && !same(c.Entrypoint, own.Entrypoint))
    cannot(
      `its entrypoint ${JSON.stringify(c.Entrypoint)}`,
      'has several words, which --entrypoint cannot give'
    )
  if (c.Healthcheck?.Test?.[0] === 'CMD' && !same(c.Healthcheck, own.Healthcheck))
    cannot('its health check', 'is in the exec form (CMD), which --health-cmd cannot give')
  if (nonEmpty(h.DeviceRequests)) cannot('--gpus (its device requests)', 'are not carried over yet')
  const seccomp = (h.SecurityOpt ?? []).find((o: string) => o.startsWith('seccomp={'))
  if (seccomp)
    cannot(
      'its seccomp profile',
      'was read from a file when it was started, and docker run needs that file'
    )
  for (const mount of raw.Mounts ?? []) {
    const given =
      (h.Binds ?? []).some((b: string) => b.split(':')[1] === mount.Destination) ||
      (h.Mounts ?? []).some(
        (m: Json) => m.Target === mount.Destination && (m.Source || m.Type !== 'volume')
      )
    if (mount.Type === 'volume' && !given)
      cannot(
        `its anonymous volume at ${mount.Destination}`,
        'would be a new, empty one in the recreated container; give it a name (-v name:' +
          `${mount.Destination})`
      )
  }

  // Network, ports, volumes.
  if (h.NetworkMode && h.NetworkMode !== 'default') flag('--network', h.NetworkMode)
  const networkHost = h.NetworkMode === 'host'
  // On the host's network or another container's, the hostname is theirs, not given.
  const sharedNetwork = networkHost || String(h.NetworkMode ?? '').startsWith('container:')
  if (c.Hostname && !sharedNetwork && c.Hostname !== String(raw.Id ?? '').slice(0, 12))
    flag('--hostname', c.Hostname)
  if (c.Domainname) flag('--domainname', c.Domainname)
  for (const [port, bindings] of Object.entries(h.PortBindings ?? {}) as [string, Json[]][])
    for (const b of bindings ?? [])
      flag('--publish', `${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort ?? ''}:${port}`)
  for (const port of Object.keys(c.ExposedPorts ?? {}))
    if (!(port in (own.ExposedPorts ?? {})) && !(port in (h.PortBindings ?? {})))
      flag('--expose', port)
  if (h.PublishAllPorts) args.push('--publish-all')
  if (c.MacAddress) flag('--mac-address', c.MacAddress)
  for (const endpoint of Object.values(raw.NetworkSettings?.Networks ?? {}) as Json[]) {
    if (endpoint.IPAMConfig?.IPv4Address) flag('--ip', endpoint.IPAMConfig.IPv4Address)
    if (endpoint.IPAMConfig?.IPv6Address) flag('--ip6', endpoint.IPAMConfig.IPv6Address)
    // Docker adds the container's short ID itself.
    for (const alias of endpoint.Aliases ?? [])
      if (alias !== String(raw.Id ?? '').slice(0, 12)) flag('--network-alias', alias)
  }
  for (const bind of h.Binds ?? []) flag('--volume', bind)
  for (const m of h.Mounts ?? []) flag('--mount', mountSpec(m))
  for (const [path, options] of Object.entries(h.Tmpfs ?? {}))
    flag('--tmpfs', options ? `${path}:${options}` : path)
  for (const host of h.ExtraHosts ?? []) flag('--add-host', host)
  for (const dns of h.Dns ?? []) flag('--dns', dns)
  for (const search of h.DnsSearch ?? []) flag('--dns-search', search)
  for (const option of h.DnsOptions ?? []) flag('--dns-option', option)

  // How it runs and stops.
  const restart = h.RestartPolicy ?? {}
  if (restart.Name && restart.Name !== 'no')
    flag(
      '--restart',
      restart.MaximumRetryCount ? `${restart.Name}:${restart.MaximumRetryCount}` : restart.Name
    )
  if (h.AutoRemove) args.push('--rm')
  if (h.Init === true) args.push('--init')
  if (h.Privileged) args.push('--privileged')
  if (h.ReadonlyRootfs) args.push('--read-only')
  if (c.Tty) args.push('--tty')
  if (c.OpenStdin) args.push('--interactive')
  if (c.User && c.User !== (own.User ?? '')) flag('--user', c.User)
  if (c.WorkingDir && c.WorkingDir !== (own.WorkingDir ?? '')) flag('--workdir', c.WorkingDir)
  if (c.StopSignal && c.StopSignal !== (own.StopSignal ?? '')) flag('--stop-signal', c.StopSignal)
  if (typeof c.StopTimeout === 'number') flag('--stop-timeout', c.StopTimeout)
  for (const group of h.GroupAdd ?? []) flag('--group-add', group)
  for (const cap of h.CapAdd ?? []) flag('--cap-add', cap)
  for (const cap of h.CapDrop ?? []) flag('--cap-drop', cap)
  for (const opt of h.SecurityOpt ?? []) flag('--security-opt', opt)
  for (const rule of h.DeviceCgroupRules ?? []) flag('--device-cgroup-rule', rule)
  if (
    Array.isArray(h.MaskedPaths) &&
    h.MaskedPaths.length === 0 &&
    Array.isArray(h.ReadonlyPaths) &&
    h.ReadonlyPaths.length === 0
  )
    flag('--security-opt', 'systempaths=unconfined')
  for (const d of h.Devices ?? [])
    flag(
      '--device',
      `${d.PathOnHost}:${d.PathInContainer}${d.CgroupPermissions ? `:${d.CgroupPermissions}` : ''}`
    )
  for (const [name, value] of Object.entries(h.Sysctls ?? {})) flag('--sysctl', `${name}=${value}`)
  for (const [mode, flagName] of [
    ['IpcMode', '--ipc'],
    ['PidMode', '--pid'],
    ['UTSMode', '--uts'],
    ['UsernsMode', '--userns'],
    ['CgroupnsMode', '--cgroupns']
  ] as const) {
    const value = h[mode]
    if (value && !['private', 'shareable', ''].includes(value)) flag(flagName, value)
  }
  if (h.Runtime && h.Runtime !== 'runc') flag('--runtime', h.Runtime)
  if (h.CgroupParent) flag('--cgroup-parent', h.CgroupParent)

  // Resources.
  const resources: [string, string][] = [
    ['Memory', '--memory'],
    ['MemoryReservation', '--memory-reservation'],
    ['MemorySwap', '--memory-swap'],
    ['NanoCpus', '--cpus'],
    ['CpuShares', '--cpu-shares'],
    ['CpuQuota', '--cpu-quota'],
    ['CpuPeriod', '--cpu-period'],
    ['PidsLimit', '--pids-limit'],
    ['OomScoreAdj', '--oom-score-adj']
  ]
  for (const [field, name] of resources) {
    const value = h[field]
    if (typeof value !== 'number' || value === 0) continue
    flag(name, field === 'NanoCpus' ? value / 1e9 : value)
  }
  if (h.CpusetCpus) flag('--cpuset-cpus', h.CpusetCpus)
  if (h.CpusetMems) flag('--cpuset-mems', h.CpusetMems)
  if (typeof h.MemorySwappiness === 'number' && h.MemorySwappiness >= 0)
    flag('--memory-swappiness', h.MemorySwappiness)
  if (h.OomKillDisable) args.push('--oom-kill-disable')
  if (typeof h.ShmSize === 'number' && h.ShmSize > 0 && h.ShmSize !== 64 * 1024 * 1024)
    flag('--shm-size', h.ShmSize)
  for (const u of h.Ulimits ?? []) flag('--ulimit', `${u.Name}=${u.Soft}:${u.Hard}`)

  // Logs.
  if (h.LogConfig?.Type) flag('--log-driver', h.LogConfig.Type)
  for (const [key, value] of Object.entries(h.LogConfig?.Config ?? {}))
    flag('--log-opt', `${key}=${value}`)

  // What the image says stays the image's; what the container was given is given again.
  const imageLabels: Json = own.Labels ?? {}
  for (const [key, value] of Object.entries(c.Labels ?? {}))
    if (imageLabels[key] !== value) flag('--label', `${key}=${value}`)
  const hc: Json | undefined = c.Healthcheck
  if (hc && !same(hc, own.Healthcheck)) {
    if (hc.Test?.[0] === 'NONE') args.push('--no-healthcheck')
    else {
      if (hc.Test?.[0] === 'CMD-SHELL') flag('--health-cmd', hc.Test[1])
      const seconds = (ns: number) => `${ns / 1e9}s`
      if (hc.Interval) flag('--health-interval', seconds(hc.Interval))
      if (hc.Timeout) flag('--health-timeout', seconds(hc.Timeout))
      if (hc.StartPeriod) flag('--health-start-period', seconds(hc.StartPeriod))
      if (hc.Retries) flag('--health-retries', hc.Retries)
    }
  }
  if (!same(c.Entrypoint, own.Entrypoint)) flag('--entrypoint', (c.Entrypoint ?? [''])[0] ?? '')
  const imageEnv = new Set<string>(own.Env ?? [])
  const env = (c.Env ?? []).filter((e: string) => !imageEnv.has(e))
  const unfit = env.find((e: string) => /[\r\n]/.test(e) || e.length > 65_000)
  if (unfit)
    cannot(
      `the environment variable ${unfit.split('=')[0]}`,
      'has a line break in its value, or is over 64 KiB, which an env-file cannot give'
    )
  args.push(image)
  // The command, when the container was given its own (or a new entrypoint, which clears CMD).
  if (!same(c.Cmd, own.Cmd) || !same(c.Entrypoint, own.Entrypoint)) args.push(...(c.Cmd ?? []))
  return { kind: 'run', command: args, stdin: env.length > 0 ? env.join('\n') + '\n' : '' }
}

/** `--mount` from HostConfig.Mounts: type, source, target, read-only, and a volume's options. */
function mountSpec(m: Json): string {
  const parts = [`type=${m.Type}`]
  if (m.Source) parts.push(`source=${m.Source}`)
  parts.push(`target=${m.Target}`)
  if (m.ReadOnly) parts.push('readonly')
  if (m.BindOptions?.Propagation) parts.push(`bind-propagation=${m.BindOptions.Propagation}`)
  if (m.VolumeOptions?.NoCopy) parts.push('volume-nocopy')
  if (m.TmpfsOptions?.SizeBytes) parts.push(`tmpfs-size=${m.TmpfsOptions.SizeBytes}`)
  if (m.TmpfsOptions?.Mode) parts.push(`tmpfs-mode=${m.TmpfsOptions.Mode.toString(8)}`)
  return parts.join(',')
}
