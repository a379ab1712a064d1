import * as docker from './docker.js'
import type { ContainerInfo, ImageInfo } from './docker.js'
import { short } from './format.js'
import { DeployError, QUICK_MS, rollbackTag, type Host } from './host.js'
import type { Command } from './shell.js'
import { releaseTag } from './release/retention.js'
import { recreationFor, type Recreate } from './recreate.js'
import { replaceProduction, RolledBack, serveOptions } from './replace.js'
import type { Run } from './steps/run.js'
import {
  rollBackService,
  rollOutService,
  SERVICE_LABEL,
  serviceOf,
  swarmRepository
} from './swarm.js'

/** What production runs, found under the lock. */
export interface Production {
  container: ContainerInfo
  image: ImageInfo
  /** The admin container's name. */
  admin: string
  /** Where its release goes and how it is replaced. */
  target: Target
}

/**
 * Where a release goes and how it replaces production: a plain host, where the supervisor
 * respawns production from the image tag, or a Docker Swarm service, which rolls it out. The
 * procedure's steps are the same for both; they differ only here.
 */
export interface Target {
  /** The step that replaces production, as the log and the summary name it. */
  replaceStep: string
  /** Where releases are tagged (and, for Swarm, pushed). */
  repository: string
  /** The Swarm service, when production is one. */
  service?: string
  /** The tag the release is committed to: none on a plain host, where the tag moves at the swap. */
  releaseName(commit: string): string | undefined
  /**
   * Run with the commit, in its round trip: a Swarm service's previous image keeps
   * `:hermes-previous` (for `rollback-to: previous`); a plain host tags it at the swap instead.
   */
  keepPrevious(previousImageId: string): Command[]
  /**
   * Once production and its image are read: decide how production comes back when it is
   * replaced, and refuse now, before anything changes, what could not be done.
   */
  prepare(container: ContainerInfo, image: ImageInfo): void
  /** Put `release` (its ref for Swarm) in production; throws when it did not stay there. */
  replace(
    run: Run,
    host: Host,
    production: Production,
    release: ImageInfo,
    ref: string
  ): Promise<void>
}

/** The target for the production container found: a Swarm task's service, or the plain host. */
export function targetFor(run: Run, container: ContainerInfo): Target {
  const service = serviceOf(run.settings, container)
  if (!service) return plainHost(run)
  const repository = swarmRepository(run.settings, container.imageName)
  return {
    replaceStep: `Update the Swarm service ${service}`,
    repository,
    service,
    releaseName: commit => `${repository}:${releaseTag(commit)}`,
    keepPrevious: id => [docker.tag(id, rollbackTag(repository))],
    prepare: () => undefined,
    replace: (run, host, production, release, ref) =>
      updateService(run, host, production, release, { service, ref, repository })
  }
}

function plainHost(run: Run): Target {
  let recreate: Recreate | undefined
  return {
    replaceStep: 'Replace production',
    repository: run.settings.image.repository,
    releaseName: () => undefined,
    keepPrevious: () => [],
    prepare: (container, image) => {
      recreate = recreationFor(
        run.settings.respawn,
        container,
        run.settings.image,
        image.config,
        line => run.runner.info(line)
      )
    },
    replace: (run, host, production, release) =>
      replaceOnHost(run, host, production, release, recreate)
  }
}

/** The supervisor respawns production from the release; health, stability, rollback on failure. */
async function replaceOnHost(
  run: Run,
  host: Host,
  production: Production,
  release: ImageInfo,
  recreate?: Recreate
): Promise<void> {
  const { settings, report } = run
  const previous = production.image
  report.imageId = release.id
  try {
    report.containerId = await replaceProduction(host, run.runner, {
      image: settings.image,
      production: production.container,
      previousImageId: previous.id,
      previousConfig: previous.config,
      releaseId: release.id,
      serve: serveOptions(settings, production.admin),
      rollback: settings.rollback,
      handover: settings.handover,
      recreate,
      // A deploy recorded its release at the commit; `rollback-to` does it here.
      progress: phase => {
        if (phase === 'done') run.progress({ phase })
        else if (settings.rollbackTo)
          run.progress({ phase, previousImageId: previous.id, releasedImageId: release.id })
      }
    })
  } catch (error) {
    if (error instanceof RolledBack) {
      report.rolledBack = true
      report.containerId = error.containerId
      report.rollbackDetail = `${error.cause}\nRestored ${short(previous.id)} (commit ${report.previousCommit}); container ${short(error.containerId)} serves it.`
      report.outcome = 'rolled-back'
    }
    throw error
  }
}

/**
 * Push the release and hand it to Swarm's rolling update; Swarm's health checks and its failure
 * action decide. The health command, when given, runs after Swarm converged; when it fails,
 * Swarm is asked to roll back.
 */
async function updateService(
  run: Run,
  host: Host,
  production: Production,
  release: ImageInfo,
  swarm: { service: string; ref: string; repository: string }
): Promise<void> {
  const { settings, report, runner } = run
  const { service } = swarm
  report.imageId = release.id
  let result = await rollOutService(host, runner, settings, {
    ...swarm,
    push: !settings.rollbackTo
  })
  report.swarm = { service, ...result }
  if (result.outcome.kind === 'converged' && settings.healthCommand) {
    const health = await host.exec(
      docker.healthCheck(settings.healthCommand, settings.healthTimeoutSec),
      'health command',
      settings.healthTimeoutSec * 1000 + QUICK_MS
    )
    if (health.code === 0) runner.info(`Health command ${health.stdout.trim()}`)
    else if (settings.rollback) {
      const why = `Swarm converged, but the health command did not pass within ${settings.healthTimeoutSec} s (\`health-timeout\`). Its last output:\n${(health.stdout + health.stderr).trim()}`
      runner.warning(`${why}\nAsking Swarm to roll back.`, 'Rolling back')
      result = await rollBackService(host, runner, settings, service)
      report.swarm = { service, ...result }
      if (result.outcome.kind === 'rolled-back') result.outcome.why = why
    } else {
      throw new DeployError(
        `The health command did not pass within ${settings.healthTimeoutSec} s (\`health-timeout\`), and rollback is off: the service runs the release.`
      )
    }
  }
  run.progress({ phase: 'done' })
  const { outcome } = result
  if (outcome.kind === 'converged') {
    // The task on this node, when Swarm placed one here.
    const { containers } = await host.survey(settings.image.name)
    report.containerId = containers.find(
      c => c.running && c.imageId === release.id && c.labels[SERVICE_LABEL] === service
    )?.id
    runner.info(`Swarm converged: ${service} runs ${short(release.id)}`)
    return
  }
  if (outcome.kind === 'rolled-back') {
    report.rolledBack = true
    report.outcome = 'rolled-back'
    report.rollbackDetail = `${outcome.why}\nThe service is back on ${short(production.image.id)} (commit ${report.previousCommit}).`
  }
  throw new DeployError(
    outcome.kind === 'rolled-back'
      ? outcome.why
      : `${outcome.why}\nThe service may run a mix of releases: see \`docker service ps ${service}\` on the host; \`docker service rollback ${service}\` puts the previous one back.`
  )
}
