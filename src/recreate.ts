import type { ContainerInfo, ImageConfig, Json } from './docker.js'
import { DeployError } from './host.js'
import type { Command } from './shell.js'

/*
 * On a host where Docker's restart policy keeps production alive (`--restart unless-stopped`),
 * nothing respawns a container the action stops: `docker stop` counts as a manual stop. So the
 * action starts the release itself, as `docker run` with exactly the configuration production
 * had, read from its `docker inspect`: what the image already says is left to the image (the
 * release carries the same config), everything the container was given is given again. A setting
 * that `docker run` cannot give back stops the deploy before anything is changed, naming it.
 */

/** Compose labels the containers of a project with its name. */
const COMPOSE_PROJECT = 'com.docker.compose.project'

/** The name production is kept under, stopped, until its release is confirmed. */
export function keptName(production: string): string {
  return `${production}-hermes-previous`
}

/** How production's container is brought back once it is stopped. */
export type Respawn = 'supervisor' | 'restart-policy'

/** Who brings production back, and why the action thinks so (for the log). */
export function detectRespawn(container: ContainerInfo): { respawn: Respawn; why: string } {
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
  const project = container.labels[COMPOSE_PROJECT]
  if (project && (respawn === 'auto' || respawn === undefined)) {
    throw new DeployError(
      `${container.name} is a service of the Compose project ${project}, which the action does not deploy yet: nothing was changed. ` +
        'Set `respawn: restart-policy` to have the action recreate it outside Compose, or `respawn: supervisor` if something else restarts it.'
    )
  }
  const decided =
    respawn === 'auto' || respawn === undefined
      ? detectRespawn(container)
      : { respawn, why: 'as `respawn` says' }
  log(
    `${container.name} comes back by its ${decided.respawn === 'supervisor' ? 'supervisor' : 'restart policy'}: ${decided.why}`
  )
  if (decided.respawn === 'supervisor') return undefined
  // As production names its image (`texasca/api` or `texasca/api:latest`), so inspect matches.
  const named = [image.name, image.repository].includes(container.imageName)
    ? container.imageName
    : image.name
  return recreate(container, named, config)
}

/** `docker run` of `image` as `container` was run; its environment goes on stdin. */
export interface Recreate {
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
  for (const mount of raw.Mounts ?? []) {
    const given =
      (h.Binds ?? []).some((b: string) => b.split(':')[1] === mount.Destination) ||
      (h.Mounts ?? []).some((m: Json) => m.Target === mount.Destination)
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
  if (c.Hostname && !networkHost && c.Hostname !== String(raw.Id ?? '').slice(0, 12))
    flag('--hostname', c.Hostname)
  if (c.Domainname) flag('--domainname', c.Domainname)
  for (const [port, bindings] of Object.entries(h.PortBindings ?? {}) as [string, Json[]][])
    for (const b of bindings ?? [])
      flag('--publish', `${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort ?? ''}:${port}`)
  for (const port of Object.keys(c.ExposedPorts ?? {}))
    if (!(port in (own.ExposedPorts ?? {})) && !(port in (h.PortBindings ?? {})))
      flag('--expose', port)
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
  if (env.some((e: string) => e.includes('\n')))
    cannot('an environment variable', 'has a newline in its value, which an env-file cannot give')
  args.push(image)
  // The command, when the container was given its own (or a new entrypoint, which clears CMD).
  if (!same(c.Cmd, own.Cmd) || !same(c.Entrypoint, own.Entrypoint)) args.push(...(c.Cmd ?? []))
  return { command: args, stdin: env.length > 0 ? env.join('\n') + '\n' : '' }
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
  return parts.join(',')
}
