import { commit, removeContainer, type ImageConfig, type ImageInfo } from '../docker.js'
import { QUICK_MS, SLOW_MS, type Host } from '../host.js'
import { exportImport as EXPORT_IMPORT } from '../remote/scripts.js'
import { shScript, type Command } from '../shell.js'

/*
 * `docker commit` on top of the running image adds a layer per deploy, and the engine refuses a
 * 125th ("max depth exceeded"). A flattened release is the admin container's filesystem as one
 * imported layer, with the original image's config put back: what `docker import --change`
 * cannot carry (STOPSIGNAL, env values with any characters) goes through a created container and
 * a commit, which copies its config. The usual config drift check then verifies every field.
 */

/** The admin container's filesystem as a one-layer image tagged `tag`, on the host alone. */
export function exportImport(container: string, tag: string, message: string): Command {
  return shScript(EXPORT_IMPORT, container, tag, message)
}

/**
 * A container (never started) of the flat image carrying the original config that `docker
 * create` can set. Its environment comes from stdin as an env-file (`flatEnv`).
 */
function createCarrier(name: string, flatImage: string, config: ImageConfig): Command {
  const args = ['docker', 'create', '--name', name, '--env-file', '/dev/stdin']
  if (config.WorkingDir) args.push('--workdir', config.WorkingDir)
  if (config.User) args.push('--user', config.User)
  for (const port of Object.keys(config.ExposedPorts ?? {})) args.push('--expose', port)
  for (const [key, value] of Object.entries(config.Labels ?? {}))
    args.push('--label', `${key}=${value}`)
  if (config.StopSignal) args.push('--stop-signal', config.StopSignal)
  // A placeholder process, replaced on commit exactly as for the admin container.
  const hasEntrypoint = Array.isArray(config.Entrypoint) && config.Entrypoint.length > 0
  if (hasEntrypoint) args.push('--entrypoint', 'hermes-placeholder', flatImage)
  else args.push(flatImage, 'hermes-placeholder')
  return args
}

function flatEnv(config: ImageConfig): string {
  return (config.Env ?? []).join('\n') + '\n'
}

/** Commit the carrier as the release, with what only a commit change can set. */
function commitCarrier(options: {
  container: string
  image?: string
  original: ImageConfig
  message: string
}): Command {
  const base = commit(options)
  const extra: string[] = []
  const volumes = Object.keys(options.original.Volumes ?? {})
  if (volumes.length > 0) extra.push('--change', `VOLUME ${JSON.stringify(volumes)}`)
  const health = healthcheckChange(options.original.Healthcheck)
  if (health) extra.push('--change', health)
  // The changes go before the container (and image) names, which close the command.
  const names = options.image ? 2 : 1
  return [...base.slice(0, -names), ...extra, ...base.slice(-names)]
}

interface Healthcheck {
  Test?: string[]
  Interval?: number
  Timeout?: number
  StartPeriod?: number
  Retries?: number
}

/** The image's HEALTHCHECK as a Dockerfile instruction (durations are nanoseconds in the config). */
function healthcheckChange(raw: unknown): string | undefined {
  const health = raw as Healthcheck | undefined
  if (!health?.Test || health.Test.length === 0) return undefined
  const [kind, ...rest] = health.Test
  if (kind === 'NONE') return 'HEALTHCHECK NONE'
  const options: string[] = []
  const ms = (ns?: number) => (ns ? `${Math.round(ns / 1e6)}ms` : undefined)
  if (ms(health.Interval)) options.push(`--interval=${ms(health.Interval)}`)
  if (ms(health.Timeout)) options.push(`--timeout=${ms(health.Timeout)}`)
  if (ms(health.StartPeriod)) options.push(`--start-period=${ms(health.StartPeriod)}`)
  if (health.Retries) options.push(`--retries=${health.Retries}`)
  const test = kind === 'CMD-SHELL' ? rest.join(' ') : JSON.stringify(rest)
  return ['HEALTHCHECK', ...options, 'CMD', test].join(' ')
}

/**
 * The admin container's filesystem as one layer, with the original image's config carried over.
 * Tagged `image` when given; returns the new image's ID.
 */
export async function flatten(
  host: Host,
  admin: string,
  repository: string,
  image: string | undefined,
  previous: ImageInfo,
  commitMessage: string
): Promise<string> {
  const flat = `${repository}:hermes-flat`
  const carrier = `${admin}-flat`
  await host.run(exportImport(admin, flat, commitMessage), 'docker export | docker import', SLOW_MS)
  try {
    await host.run(removeContainer(carrier), 'docker rm -f (stale carrier)').catch(() => undefined)
    await host.run(
      createCarrier(carrier, flat, previous.config),
      'docker create (flattened release)',
      QUICK_MS,
      flatEnv(previous.config)
    )
    return (
      await host.run(
        commitCarrier({
          container: carrier,
          image,
          original: previous.config,
          message: commitMessage
        }),
        'docker commit (flattened release)',
        SLOW_MS
      )
    ).trim()
  } finally {
    await host.run(removeContainer(carrier), 'docker rm -f (carrier)').catch(() => undefined)
    await host.run(['docker', 'rmi', flat], 'docker rmi (flat)').catch(() => undefined)
  }
}
