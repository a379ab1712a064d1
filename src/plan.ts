import * as docker from './docker.js'
import type { ContainerInfo, ImageInfo } from './docker.js'
import type { DeployReport } from './deploy.js'
import { short } from './format.js'
import * as git from './git.js'
import { rollbackTag, SLOW_MS, type Host } from './host.js'
import { addressLabel, type Settings } from './inputs.js'
import type { Runner } from './runner.js'
import { releaseTag } from './release/retention.js'
import type { Command } from './shell.js'
import type { Run } from './steps/run.js'
import type { Production } from './target.js'

/** A dry run: check what can be checked without changing anything, and print what would happen. */
async function planDeploy(
  settings: Settings,
  production: ContainerInfo,
  image: ImageInfo,
  adminName: string,
  report: DeployReport,
  host: Host,
  runner: Runner,
  /** Production is a Swarm service: its releases are pushed to `repository`. */
  swarm?: { service: string; repository: string }
): Promise<void> {
  const inProduction = (command: Command) =>
    docker.exec(production.name, command, { workdir: settings.repoPath })
  const changed = (await host.run(inProduction(git.changedFiles()), 'git status')).trim()
  if (changed)
    runner.warning(`The checkout in ${production.name} has uncommitted changes:\n${changed}`)
  const tip = (
    await host.run(
      inProduction(git.remoteTip(settings.branch)),
      `git ls-remote origin ${settings.branch}`,
      SLOW_MS
    )
  ).split(/\s/)[0]
  const rollback = rollbackTag(swarm?.repository ?? settings.image.repository)
  const releaseName = swarm
    ? `${swarm.repository}:${/^[0-9a-f]{40}$/.test(settings.ref) ? releaseTag(settings.ref) : '<commit>'}`
    : settings.image.name
  const adminRun = docker.runAdmin({
    name: adminName,
    imageId: short(image.id),
    hasEntrypoint: docker.hasEntrypoint(image.config),
    networkMode: production.networkMode
  })
  report.plan = [
    `take the deploy lock for ${settings.image.repository} (wait up to ${settings.lockTimeoutSec} s)`,
    `remove a stale ${adminName} if there is one, then ${adminRun.join(' ')}`,
    `check ${settings.repoPath} has no local changes${changed ? ' (it HAS: the deploy would stop here)' : ''}`,
    `git fetch origin ${settings.branch} (tip now ${tip}) and fast-forward ${report.previousCommit} to ${settings.ref}`,
    `build: ${settings.buildCommand}`,
    image.layers >= settings.maxLayers
      ? `flatten (${image.layers} layers ≥ max-layers ${settings.maxLayers}): docker export | docker import, config carried over` +
        (swarm ? `, as ${releaseName}` : ', known by its image ID')
      : swarm
        ? `docker commit ${adminName} ${releaseName} (ENTRYPOINT and CMD restored)`
        : `docker commit ${adminName} (ENTRYPOINT and CMD restored), known by its image ID: ${settings.image.name} does not move until the swap`,
    ...(settings.preDeployCommand
      ? [
          `pre-deploy command in ${adminName}, in ${settings.repoPath} with production's environment (up to ${settings.commandTimeoutSec} s; a failure stops the deploy here): ${settings.preDeployCommand}`
        ]
      : []),
    settings.canarySeconds > 0 || settings.canaryCommand
      ? `canary: run the release on no network for ${settings.canarySeconds} s${settings.canaryCommand ? `, then ${settings.canaryCommand}` : ''}`
      : 'no canary (canary-seconds: 0)',
    ...(swarm
      ? [
          `docker tag ${short(image.id)} ${rollback}; docker push ${releaseName}; docker service update --image ${releaseName}@<digest> --with-registry-auth --update-failure-action ${settings.rollback ? 'rollback' : 'pause'} ${swarm.service}; ` +
            `wait up to ${settings.updateTimeoutSec} s for Swarm to converge or roll back` +
            (settings.healthCommand
              ? `; then health command up to ${settings.healthTimeoutSec} s`
              : ''),
          settings.rollback
            ? `on failure: Swarm rolls the service back (past update-timeout, or a failed health command: docker service rollback ${swarm.service})`
            : 'on failure: Swarm pauses the update (rollback: false)'
        ]
      : [
          ...(settings.handover
            ? [
                `handover: start ${production.name}-standin from the release on port ${settings.handover.standinPort}, wait for ${settings.handover.readyPath} to answer, point Caddy (${settings.handover.caddyAdmin}) from port ${settings.handover.appPort} to it`
              ]
            : []),
          `docker tag ${short(image.id)} ${rollback}; docker tag <release> ${settings.image.name}; ` +
            `docker stop ${production.name} (its stop signal, then up to ${settings.stopTimeoutSec === undefined ? 'its own stop timeout' : `${settings.stopTimeoutSec} s`}) and remove it; ` +
            `wait up to ${settings.respawnTimeoutSec} s for the supervisor's new container` +
            (settings.healthCommand
              ? `; health command up to ${settings.healthTimeoutSec} s`
              : '') +
            (settings.stableSeconds > 0 ? `; watch it for ${settings.stableSeconds} s` : ''),
          ...(settings.handover
            ? [
                `handover: once port ${settings.handover.appPort} answers, point Caddy back to it, let the stand-in's requests finish, stop and remove it`
              ]
            : []),
          settings.rollback
            ? `on failure: docker tag ${rollback} ${settings.image.name} and replace again`
            : 'on failure: no rollback (rollback: false)'
        ]),
    `tag the release with its commit; keep ${settings.keepReleases} releases`,
    ...(settings.postDeployCommand
      ? [
          `post-deploy command on the host, with the HERMES_* variables (up to ${settings.commandTimeoutSec} s; a failure ${settings.postDeployMustPass ? 'fails the job' : 'is a warning'}, never a rollback): ${settings.postDeployCommand}`
        ]
      : []),
    ...(settings.hosts.length > 1
      ? [
          `then, ${settings.maxParallel} at a time, on ${settings.hosts.slice(1).map(addressLabel).join(', ')}: ` +
            'take the lock, docker save | docker load the release unless the host has it, re-tag, replace and check as above; stop at the first failure'
        ]
      : [])
  ]
  runner.info('Dry run: nothing was changed. The deploy would:')
  report.plan.forEach((line, i) => runner.info(`  ${i + 1}. ${line}`))
}

/** A dry run: connect, look, print the plan, change nothing. */
export async function dryRun(run: Run, host: Host, production: Production): Promise<DeployReport> {
  const { settings, report, runner } = run
  const { container, image, admin, target } = production
  await run.step('Plan (dry run)', () =>
    planDeploy(
      settings,
      container,
      image,
      admin,
      report,
      host,
      runner,
      target.service ? { service: target.service, repository: target.repository } : undefined
    )
  )
  report.outcome = 'dry-run'
  return report
}
