import * as docker from './docker.js'
import type { Settings } from './inputs.js'
import { short } from './format.js'
import { diagnose, formatDiagnosis, watchStable } from './release/watch.js'
import type { Runner } from './runner.js'
import { chain, run, type Command, type ExecResult, type RemoteShell } from './shell.js'

/** Bound for quick remote commands (docker ps, inspect, tag, rm): none should take near this. */
export const QUICK_MS = 60_000
/** docker commit writes a layer; fetch talks to origin. Bounded, but given room. */
export const SLOW_MS = 10 * 60_000

/** A failure the user can act on; `step` says where the deploy stopped. */
export class DeployError extends Error {
  step?: string
  constructor(message: string) {
    super(message)
    this.name = 'DeployError'
  }
}

/** Where the previous release stays during a deploy, so a rollback is one `docker tag`. */
export function rollbackTag(repository: string): string {
  return `${repository}:hermes-previous`
}

/**
 * The swap, as one command: the previous release keeps the rollback tag, the production tag moves
 * to the release, and production goes, for its supervisor to respawn from the tag. The tag moves
 * here and nowhere earlier, as the last step before production stops: a supervisor that restarts
 * production before it (a crash, an OOM kill, a reboot during the canary) starts what ran before,
 * never a release still being checked.
 */
export function swap(options: {
  repository: string
  image: string
  previousImageId: string
  releaseId: string
  production: string
}): Command {
  return chain(
    docker.tag(options.previousImageId, rollbackTag(options.repository)),
    docker.tag(options.releaseId, options.image),
    docker.removeIfPresent(options.production)
  )
}

/** The remote shell with the deploy's conventions: every command bounded, shown in debug. */
export class Host {
  constructor(
    readonly shell: RemoteShell,
    private readonly runner: Runner
  ) {}

  /** Run; a non-zero exit is an error naming `label`. Returns stdout. */
  run(command: Command, label: string, timeoutMs = QUICK_MS, stdin?: string): Promise<string> {
    this.runner.debug(`$ ${command.join(' ')}`)
    return run(this.shell, command, { label, timeoutMs, stdin })
  }

  /** Run and return the whole result, whatever the exit code. */
  exec(command: Command, label: string, timeoutMs = QUICK_MS): Promise<ExecResult> {
    this.runner.debug(`$ ${command.join(' ')}`)
    return this.shell.exec(command, { label, timeoutMs })
  }

  async survey(image: string): Promise<docker.HostSurvey> {
    return docker.parseSurvey(await this.run(docker.survey(image), 'docker ps'))
  }
}

/** How to wait for a release to serve, from the inputs; `stableSeconds` 0 for a rollback. */
export function serveOptions(
  settings: Pick<
    Settings,
    'respawnTimeoutSec' | 'healthCommand' | 'healthTimeoutSec' | 'stableSeconds'
  >,
  ignore: string,
  stableSeconds = settings.stableSeconds
): ServeOptions {
  return {
    respawnTimeoutSec: settings.respawnTimeoutSec,
    healthCommand: settings.healthCommand,
    healthTimeoutSec: settings.healthTimeoutSec,
    stableSeconds,
    ignore
  }
}

export interface ServeOptions {
  respawnTimeoutSec: number
  healthCommand?: string
  healthTimeoutSec: number
  /** After the health command, the container must keep running this long (0: no watch). */
  stableSeconds: number
  /** A container of the image that does not count (the admin container). */
  ignore: string
}

/**
 * Wait for a container of exactly `imageId` that the supervisor started, then the health
 * command. Returns the container's ID.
 */
export async function waitForServing(
  host: Host,
  runner: Runner,
  imageId: string,
  options: ServeOptions,
  /** Run first, in the same round trip (the swap). */
  before?: Command
): Promise<string> {
  const waiting = docker.waitForContainer(imageId, options.respawnTimeoutSec, options.ignore)
  const wait = await host.exec(
    before ? chain(before, waiting) : waiting,
    before
      ? 'docker tag (rollback tag, release); remove production; wait for the new container'
      : 'wait for the new container',
    options.respawnTimeoutSec * 1000 + QUICK_MS
  )
  if (wait.code !== 0) {
    throw new NoContainerError(
      wait.code === 124
        ? `No container of ${short(imageId)} started within ${options.respawnTimeoutSec} s (\`respawn-timeout\`). Is the supervisor that restarts the container running on the host?`
        : `Waiting for the new container failed (exit ${wait.code}): ${(wait.stderr || wait.stdout).trim()}`
    )
  }
  // The last line: `before` may have printed too (docker rm prints the removed ID).
  const [containerId, name] = wait.stdout.trim().split('\n').at(-1)!.split(' ')
  runner.info(`${name} (${short(containerId)}) runs ${short(imageId)}`)
  if (options.healthCommand) {
    const health = await host.exec(
      docker.healthCheck(options.healthCommand, options.healthTimeoutSec),
      'health command',
      options.healthTimeoutSec * 1000 + QUICK_MS
    )
    if (health.code !== 0) {
      const why = formatDiagnosis(
        await host.run(diagnose(containerId), 'docker inspect and logs').catch(() => '')
      )
      throw new DeployError(
        `The health command did not pass within ${options.healthTimeoutSec} s (\`health-timeout\`). Its last output:\n${(health.stdout + health.stderr).trim()}` +
          (why ? `\nThe container ${short(containerId)}: ${why}` : '')
      )
    }
    runner.info(`Health command ${health.stdout.trim()}`)
  }
  if (options.stableSeconds > 0) {
    const stable = await host.exec(
      watchStable(containerId, options.stableSeconds),
      'stability window',
      options.stableSeconds * 1000 + QUICK_MS
    )
    if (stable.code !== 0) {
      throw new DeployError(
        `The new container ${short(containerId)} did not stay up for ${options.stableSeconds} s (\`stable-seconds\`). ${formatDiagnosis(stable.stdout)}`
      )
    }
    runner.info(`Stayed up for ${options.stableSeconds} s`)
  }
  return containerId
}

export class NoContainerError extends DeployError {}

export interface Restore {
  image: string
  repository: string
  previousImageId: string
  failedImageId: string
  /** The production container as it ran before, to start it again when no supervisor does. */
  production?: docker.ContainerInfo
  previousConfig?: docker.ImageConfig
  serve: ServeOptions
}

/**
 * Put the previous release back: the tag returns to it, every container of the failed release
 * goes, and the supervisor starts the previous one. When no supervisor does, and we know how
 * production was run, start it ourselves so production serves (and say it is unsupervised).
 * Returns the ID of the container that serves the previous release.
 */
export async function restorePrevious(
  host: Host,
  runner: Runner,
  restore: Restore
): Promise<string> {
  await host.run(docker.tag(restore.previousImageId, restore.image), 'docker tag (rollback)')
  const { containers } = await host.survey(restore.image)
  for (const failed of containers.filter(
    c => c.imageId === restore.failedImageId && c.name !== restore.serve.ignore
  )) {
    // A crashing release's container can vanish between the survey and its removal.
    await host.run(docker.removeIfPresent(failed.id), 'docker rm -f (failed release)')
  }
  try {
    return await waitForServing(host, runner, restore.previousImageId, restore.serve)
  } catch (error) {
    if (!(error instanceof NoContainerError) || !restore.production || !restore.previousConfig)
      throw error
    runner.error(
      `No supervisor restarted ${restore.production.name}: starting it from ${short(restore.previousImageId)} as it ran before, so production serves. ` +
        'It is NOT supervised: start the supervisor on the host.',
      'Supervisor not running'
    )
    const running = containers.find(c => c.name === restore.production!.name)
    if (running) await host.run(docker.removeIfPresent(running.id), 'docker rm -f (leftover)')
    await host.run(
      docker.runLike(restore.production, restore.previousImageId, restore.previousConfig),
      'docker run (production, by hand)',
      QUICK_MS,
      restore.production.env.filter(e => !e.includes('\n')).join('\n') + '\n'
    )
    return waitForServing(host, runner, restore.previousImageId, {
      ...restore.serve,
      respawnTimeoutSec: 15
    })
  }
}
