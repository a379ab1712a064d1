import * as docker from './docker.js'
import { formatDiagnosis, diagnose, watchStable } from './release/watch.js'
import { message, short } from './format.js'
import { DeployError, QUICK_MS, SLOW_MS, rollbackTag, type Host } from './host.js'
import { startHandover, type ActiveHandover } from './handover.js'
import { composeUp, keptName, type Recreate } from './recreate.js'
import type { HandoverSettings, ImageRef, Settings } from './inputs.js'
import type { Runner } from './runner.js'
import { chain, together, type Command } from './shell.js'

/*
 * Replace production on one host — the procedure's step 13, the runbook's step 7 — used by the
 * deploy, the rollout to other hosts, `rollback-to` and the post step: move the tag and remove
 * production in one command (the swap), wait for the supervisor's new container, health-check
 * it, watch it stay up, and on failure put the previous release back the same way.
 */

/** One replacement of production on one host. */
interface Replacement {
  image: ImageRef
  /** The container serving now. */
  production: docker.ContainerInfo
  previousImageId: string
  /** The previous image's config, to start production by hand when no supervisor does. */
  previousConfig?: docker.ImageConfig
  releaseId: string
  serve: ServeOptions
  /** Put the previous release back when the new one fails (`rollback`). */
  rollback: boolean
  /** The host, when there are several (`h2:22`); '' for the only or first one. */
  where?: string
  /** The zero-downtime handover through the host's proxy; undefined: the runbook's respawn. */
  handover?: HandoverSettings
  /**
   * On a restart-policy host: the `docker run` that starts the release as production was run.
   * Production is then stopped and kept aside, not removed, until the release is confirmed.
   */
  recreate?: Recreate
  /** Told `releasing` before the swap and `done` once the release is confirmed or rolled back. */
  progress?: (phase: 'releasing' | 'done') => void
}

/** The release failed on this host and the previous one serves again. */
export class RolledBack extends DeployError {
  constructor(
    /** Why the release failed. */
    readonly cause: string,
    /** The container that serves the previous release now. */
    readonly containerId: string
  ) {
    super(cause)
  }
}

/**
 * Swap the release in, and confirm it serves. Returns the new production container. When it does
 * not serve: with `rollback`, puts the previous release back and throws `RolledBack`; without,
 * throws the failure, leaving the release in production and saying how to roll back by hand.
 */
export async function replaceProduction(
  host: Host,
  runner: Runner,
  r: Replacement
): Promise<string> {
  r.progress?.('releasing')
  const handover =
    r.handover &&
    (await startHandover(
      host,
      runner,
      r.handover,
      r.production,
      { id: r.releaseId, config: r.previousConfig ?? {} },
      r.serve
    ).catch((error: unknown) => {
      // A stand-in that never served leaves production as it was; anything else (the connection
      // lost) is the post step's to check.
      if (error instanceof DeployError) r.progress?.('done')
      throw error
    }))
  return swapAndConfirm(host, runner, r, handover)
}

/**
 * The swap and its checks, then (with a handover) the traffic back to production. On failure,
 * the rollback (with `rollback`); while production does not serve, a stand-in keeps the traffic.
 */
async function swapAndConfirm(
  host: Host,
  runner: Runner,
  r: Replacement,
  handover?: ActiveHandover
): Promise<string> {
  try {
    const containerId = await waitForServing(
      host,
      runner,
      r.releaseId,
      r.serve,
      swap(
        {
          repository: r.image.repository,
          image: r.image.name,
          previousImageId: r.previousImageId,
          releaseId: r.releaseId,
          production: r.production,
          stopTimeoutSec: r.serve.stopTimeoutSec ?? docker.ownStopTimeout(r.production)
        },
        r.recreate
      ),
      r.recreate?.stdin
    )
    if (r.recreate?.kind === 'run') {
      await host.run(
        docker.removeContainer(keptName(r.production.name)),
        'docker rm (previous production)'
      )
    }
    await handover?.end()
    r.progress?.('done')
    return containerId
  } catch (error) {
    if (!r.rollback) {
      runner.error(
        `Rollback is off: production${r.where ? ` on ${r.where}` : ''} runs the failed release. To roll back by hand: docker tag ${rollbackTag(r.image.repository)} ${r.image.name} && docker rm -f <new container>`,
        'Rollback skipped'
      )
      await handover?.end().catch((kept: unknown) => runner.error(message(kept), 'Stand-in kept'))
      r.progress?.('done')
      throw error
    }
    runner.warning(
      `Rolling back${r.where ? ` ${r.where}` : ''} to ${short(r.previousImageId)}: ${message(error)}`,
      'Rolling back'
    )
    // When the rollback fails too, the stand-in keeps the traffic: it is all that serves.
    const restored = await rollBack(host, runner, {
      image: r.image,
      previousImageId: r.previousImageId,
      failedImageId: r.releaseId,
      production: r.production,
      previousConfig: r.previousConfig,
      kept:
        r.recreate?.kind === 'run'
          ? { name: keptName(r.production.name), as: r.production.name }
          : undefined,
      serve: { ...r.serve, stableSeconds: 0 }
    }).catch((failed: unknown) => {
      if (!handover) throw failed
      throw new DeployError(
        `${message(failed)}\nThe stand-in ${handover.standin} keeps the traffic meanwhile: Caddy sends it every request.`
      )
    })
    await handover?.end()
    r.progress?.('done')
    throw new RolledBack(message(error), restored)
  }
}

/** What putting the previous release back on one host needs to know. */
interface Restore {
  image: ImageRef
  previousImageId: string
  failedImageId: string
  /** The production container as it ran before, to start it again when no supervisor does. */
  production?: docker.ContainerInfo
  previousConfig?: docker.ImageConfig
  /** On a restart-policy host: the stopped production kept aside (`name`), started again as `as`. */
  kept?: { name: string; as: string }
  serve: ServeOptions
  /** Said after ROLLBACK FAILED: when it happened (` after the cancelled deploy`). */
  when?: string
}

/** Put the previous release back (`restorePrevious`); a failure says production may be down. */
export async function rollBack(host: Host, runner: Runner, restore: Restore): Promise<string> {
  return restorePrevious(host, runner, restore).catch(error => {
    throw new DeployError(
      `ROLLBACK FAILED${restore.when ?? ''}: ${message(error)}\nProduction may be down. ${restore.image.name} is back on ${short(restore.previousImageId)}; check the supervisor on the host.`
    )
  })
}

/**
 * The swap, as one command: the previous release keeps the rollback tag, the production tag moves
 * to the release, and production is stopped gracefully (its requests in flight finish) and
 * removed, for its supervisor to respawn from the tag. The tag moves
 * here and nowhere earlier, as the last step before production stops: a supervisor that restarts
 * production before it (a crash, an OOM kill, a reboot during the canary) starts what ran before,
 * never a release still being checked.
 */
function swap(
  options: {
    repository: string
    image: string
    previousImageId: string
    releaseId: string
    production: docker.ContainerInfo
    stopTimeoutSec?: number
  },
  recreate?: Recreate
): Command {
  const { production } = options
  // Side by side: neither depends on the other, and both come before production stops.
  const tags = together(
    docker.tag(options.previousImageId, rollbackTag(options.repository)),
    docker.tag(options.releaseId, options.image)
  )
  if (!recreate) {
    return chain(
      tags,
      docker.stopGracefully(production.id, options.stopTimeoutSec, docker.removal(production))
    )
  }
  // Compose stops the service's container (its stop grace period) and starts one of the tag.
  if (recreate.kind === 'compose') return chain(tags, recreate.command)
  // Nothing restarts a stopped container: production is stopped, kept aside under another name
  // for a rollback that starts it again exactly as it was, and the release is started as it ran.
  const kept = keptName(production.name)
  return chain(
    tags,
    docker.removeIfPresent(kept),
    docker.stopGracefully(production.id, options.stopTimeoutSec, 'keep'),
    docker.renameContainer(production.id, kept),
    recreate.command
  )
}

/** How to wait for a release to serve, from the inputs; `stableSeconds` 0 for a rollback. */
export function serveOptions(
  settings: Pick<
    Settings,
    'respawnTimeoutSec' | 'stopTimeoutSec' | 'healthCommand' | 'healthTimeoutSec' | 'stableSeconds'
  >,
  ignore: string,
  stableSeconds = settings.stableSeconds
): ServeOptions {
  return {
    respawnTimeoutSec: settings.respawnTimeoutSec,
    stopTimeoutSec: settings.stopTimeoutSec,
    healthCommand: settings.healthCommand,
    healthTimeoutSec: settings.healthTimeoutSec,
    stableSeconds,
    ignore
  }
}

interface ServeOptions {
  respawnTimeoutSec: number
  /** How long the container replaced may take to stop (undefined: its own StopTimeout). */
  stopTimeoutSec?: number
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
async function waitForServing(
  host: Host,
  runner: Runner,
  imageId: string,
  options: ServeOptions,
  /** Run first, in the same round trip (the swap). */
  before?: Command,
  /** The standard input of `before`. */
  stdin?: string
): Promise<string> {
  // One round trip: the swap, the wait for the new container and the health command.
  const commands = [
    ...(before ? [before] : []),
    docker.waitForContainer(imageId, options.respawnTimeoutSec, options.ignore),
    ...(options.healthCommand
      ? [['echo', HEALTH_MARK], docker.healthCheck(options.healthCommand, options.healthTimeoutSec)]
      : [])
  ]
  const result = await host.exec(
    commands.length > 1 ? chain(...commands) : commands[0],
    (before ? 'docker tag (rollback tag, release); stop production; ' : '') +
      'wait for the new container' +
      (options.healthCommand ? '; health command' : ''),
    // Room for the graceful stop too, bounded when the container's own StopTimeout is unknown.
    (options.respawnTimeoutSec +
      (options.stopTimeoutSec ?? MAX_STOP_SEC) +
      (options.healthCommand ? options.healthTimeoutSec : 0)) *
      1000 +
      QUICK_MS,
    stdin
  )
  // What the health command printed follows the mark; without it, the wait failed (or the swap).
  const mark = result.stdout.indexOf(`\n${HEALTH_MARK}\n`)
  const health =
    mark >= 0
      ? {
          code: result.code,
          stdout: result.stdout.slice(mark + HEALTH_MARK.length + 2),
          stderr: result.stderr
        }
      : undefined
  const wait = health ? { ...result, code: 0, stdout: result.stdout.slice(0, mark) } : result
  const killed = docker.stopTimedOut(wait.stdout)
  if (killed) runner.warning(`The production container it replaced ${killed}.`, 'Stop timed out')
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
  if (health) {
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

class NoContainerError extends DeployError {}

/** Printed between the wait for the new container and the health command. */
const HEALTH_MARK = '#health'

/** The longest a container's own StopTimeout is waited for when `stop-timeout` is not set. */
const MAX_STOP_SEC = 300

/**
 * Put the previous release back: the tag returns to it, every container of the failed release
 * goes, and the supervisor starts the previous one. When no supervisor does, and we know how
 * production was run, start it ourselves so production serves (and say it is unsupervised).
 * Returns the ID of the container that serves the previous release.
 */
async function restorePrevious(host: Host, runner: Runner, restore: Restore): Promise<string> {
  await host.run(docker.tag(restore.previousImageId, restore.image.name), 'docker tag (rollback)')
  const { containers } = await host.survey(restore.image.name)
  const failedContainers = containers.filter(
    c =>
      c.imageId === restore.failedImageId &&
      c.name !== restore.serve.ignore &&
      !c.labels[docker.STANDIN_LABEL]
  )
  for (const failed of failedContainers) {
    // A crashing release's container can vanish between the survey and its removal.
    const stopped = await host.run(
      docker.stopGracefully(failed.id, restore.serve.stopTimeoutSec, docker.removal(failed)),
      'docker stop; docker rm (failed release)',
      ((restore.serve.stopTimeoutSec ?? MAX_STOP_SEC) + 60) * 1000
    )
    const killed = docker.stopTimedOut(stopped)
    if (killed) runner.warning(`The failed release's container ${killed}.`, 'Stop timed out')
  }
  // A Compose service: Compose starts the previous release from the tag again.
  const compose = [...failedContainers, ...(restore.production ? [restore.production] : [])]
    .map(c => composeUp(c))
    .find(Boolean)
  if (compose) await host.run(compose.command, 'docker compose up (previous release)', SLOW_MS)
  const kept = containers.find(c => c.name === restore.kept?.name && !c.running)
  if (kept && restore.kept) {
    // A restart-policy host: the previous production, stopped and kept aside, starts again.
    await host.run(
      chain(
        docker.renameContainer(kept.id, restore.kept.as),
        docker.startContainer(restore.kept.as)
      ),
      'docker rename; docker start (previous production)'
    )
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
