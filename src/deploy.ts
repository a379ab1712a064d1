import { adminUser, decideUpdate, extraEnv, findProduction } from './decide.js'
import * as docker from './docker.js'
import type { ImageInfo } from './docker.js'
import { formatDuration, message, short } from './format.js'
import * as git from './git.js'
import type { CommitRange } from './github/compare.js'
import { decidePaths } from './github/paths.js'
import {
  DeployError,
  Host,
  QUICK_MS,
  restorePrevious,
  rollbackTag,
  SLOW_MS,
  swap,
  waitForServing,
  serveOptions
} from './host.js'
import { addressLabel, type Settings } from './inputs.js'
import { takeDeployLock, type HeldLock, type LockHolder } from './lock.js'
import { canary } from './release/canary.js'
import { flatten } from './release/flatten.js'
import { recordAttempt, type HistoryEntry } from './release/history.js'
import { findRelease } from './release/rollback.js'
import { planDeploy } from './plan.js'
import { parseRetention, releaseTag, retain, type Retention } from './release/retention.js'
import type { Runner } from './runner.js'
import { chain, type Command, type RemoteShell } from './shell.js'
import type { Progress } from './state.js'
import {
  rollBackService,
  rollOutService,
  SERVICE_LABEL,
  serviceOf,
  swarmRepository
} from './swarm.js'

export { DeployError, rollbackTag } from './host.js'
export { decideUpdate, findProduction } from './decide.js'

export interface StepRecord {
  name: string
  status: 'ok' | 'failed'
  durationMs: number
}

export interface DeployReport {
  outcome: 'deployed' | 'unchanged' | 'dry-run' | 'failed' | 'rolled-back'
  /** `rollback` for a `rollback-to` run. */
  action: 'deploy' | 'rollback'
  /** Why nothing was deployed, or what failed. */
  reason?: string
  /** The step that failed. */
  failedStep?: string
  image: string
  host: string
  steps: StepRecord[]
  productionContainer?: string
  previousImageId?: string
  imageId?: string
  previousCommit?: string
  commit?: string
  containerId?: string
  /** `abc1234 Subject (author)`, oldest first. */
  commits: string[]
  /** Where the commit list came from. */
  rangeSource?: 'github' | 'git'
  changedFiles?: string[]
  diffStat?: string
  rolledBack: boolean
  rollbackDetail?: string
  /** Set when the release was written as a flattened image. */
  flattened?: { layersBefore: number; layersAfter: number }
  retention?: Retention
  history?: HistoryEntry[]
  /** The plan printed by a dry run. */
  plan?: string[]
  /** With several hosts: where the rollout left each. */
  hosts?: import('./rollout.js').HostResult[]
  /** When production is a Swarm service: what Swarm made of the update. */
  swarm?: { service: string; image?: string; state?: string; message?: string }
}

/** A GitHub deployment for the Environments page; every call is a courtesy that never throws. */
export interface DeploymentRecord {
  start(): Promise<{ ok: boolean; warning?: string }>
  finish(
    outcome: 'success' | 'failure',
    description?: string
  ): Promise<{ ok: boolean; warning?: string }>
}

export interface DeployDeps {
  connect: () => Promise<RemoteShell>
  runner: Runner
  /** Who is deploying, written into the lock for a waiting run to show. */
  holder: LockHolder
  /** Called as the deploy passes each point the post step must know about. */
  progress?: (progress: Progress) => void
  /** The commits and files from production's commit to `ref`, from GitHub's API. */
  compare?: (base: string, head: string) => Promise<CommitRange>
  /** With `environment`: the GitHub deployment to record. */
  deployment?: DeploymentRecord
  now?: () => number
}

/**
 * The runbook, step by step. Returns the report also when the deploy fails (outcome `failed` or
 * `rolled-back`, with the reason and the step). Every failure before "Replace production" leaves
 * production exactly as it was; a failure after it rolls back (when `rollback` is on). The admin
 * container is removed, the lock released and the session closed whatever happens.
 */
export async function deploy(settings: Settings, deps: DeployDeps): Promise<DeployReport> {
  const { runner } = deps
  const now = deps.now ?? (() => performance.now())
  const started = now()
  const progress = deps.progress ?? (() => {})
  const report: DeployReport = {
    outcome: 'failed',
    action: settings.rollbackTo ? 'rollback' : 'deploy',
    image: settings.image.name,
    host: settings.hosts.length > 1 ? addressLabel(settings.hosts[0]) : settings.host,
    steps: [],
    commits: [],
    rolledBack: false
  }

  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const begun = now()
    return runner.group(name, async () => {
      try {
        const result = await fn()
        const durationMs = now() - begun
        report.steps.push({ name, status: 'ok', durationMs })
        runner.info(`✓ ${name} (${formatDuration(durationMs)})`)
        return result
      } catch (error) {
        const durationMs = now() - begun
        report.steps.push({ name, status: 'failed', durationMs })
        runner.info(`✗ ${name} (${formatDuration(durationMs)})`)
        if (!(error instanceof DeployError))
          throw Object.assign(new DeployError(message(error)), { step: name })
        error.step ??= name
        throw error
      }
    })
  }

  let host: Host | undefined
  let lock: HeldLock | undefined
  let adminName: string | undefined
  let deploymentStarted = false
  const serve = (ignore: string, stableSeconds?: number) =>
    serveOptions(settings, ignore, stableSeconds)
  const startDeployment = async () => {
    if (!deps.deployment) return
    deploymentStarted = true
    const result = await deps.deployment.start()
    if (result.warning) runner.warning(result.warning, 'GitHub deployment')
  }

  try {
    // 1. Connect over SSH: one connection for the whole deploy.
    host = new Host(await step('Connect', () => deps.connect()), runner)
    const remote = host

    // Two runs must never interleave their steps; the lock comes before `docker ps` so that what
    // this run sees is not changed under it by another.
    if (!settings.dryRun) {
      lock = await step('Take the deploy lock', () =>
        takeDeployLock(remote.shell, settings, deps.holder, runner)
      )
      progress({ phase: 'started' })
    }

    // 2. See what runs (the runbook's `docker ps`) and pick the production container.
    const { production, image, containers, service } = await step(
      'Find the production container',
      async () => {
        const survey = await remote.survey(settings.image.name)
        const found = findProduction(settings, survey.containers, survey.image)
        const service = serviceOf(settings, found)
        runner.info(
          `Production: container ${found.name} (${short(found.id)}) running ${short(found.imageId)}` +
            (service ? `, a task of the Swarm service ${service}` : '')
        )
        if (service && settings.hosts.length > 1) {
          throw new DeployError(
            `Production is the Swarm service ${service}, and Swarm rolls a release out to its nodes: list one manager node in \`host\`, not ${settings.hosts.length} hosts.`
          )
        }
        // A Swarm node need not have the image under its own name: tasks run it by digest.
        if (!survey.image && !service) {
          throw new DeployError(
            `Image ${settings.image.name} is not on the host, yet ${found.name} runs ${found.imageName}. ` +
              'Set `image` to the image the supervisor starts (see `docker ps` on the host).'
          )
        }
        return { production: found, image: survey.image, containers: survey.containers, service }
      }
    )
    report.productionContainer = production.name
    report.previousImageId = production.imageId
    // A Swarm service: the release is pushed to this repository and Swarm rolls it out.
    const releaseRepository = service
      ? swarmRepository(settings, production.imageName)
      : settings.image.repository
    if (service) report.swarm = { service }
    const admin = settings.adminContainer ?? `${service ?? production.name}-admin`

    // 3. Read what production runs: its image and the commit checked out at repo-path.
    const previousImage = await step('Read what production runs', async () => {
      report.previousCommit = await readCommit(remote, production.name, settings.repoPath)
      if (image && image.id !== production.imageId) {
        runner.warning(
          `${production.name} runs ${short(production.imageId)}, not the image ${settings.image.name} now names (${short(image.id)}): ` +
            'the release is built from what production runs.'
        )
      }
      const previous =
        image?.id === production.imageId
          ? image
          : docker.parseImage(
              JSON.parse(
                await remote.run(docker.inspectImage(production.imageId), 'docker image inspect')
              )
            )
      runner.info(
        `Image ${short(previous.id)}, commit ${report.previousCommit}, ${previous.layers} layers`
      )
      return previous
    })

    if (settings.dryRun) {
      await step('Plan (dry run)', () =>
        planDeploy(
          settings,
          production,
          previousImage,
          admin,
          report,
          remote,
          runner,
          service ? { service, repository: releaseRepository } : undefined
        )
      )
      report.outcome = 'dry-run'
      return report
    }

    // Rolling back on demand: no build, a retained release is put back in production.
    if (settings.rollbackTo) {
      const target = await step(`Find the release to roll back to (${settings.rollbackTo})`, () =>
        findRelease(remote, settings.rollbackTo!, releaseRepository, previousImage)
      )
      await startDeployment()
      await replaceProduction(target.image, `${releaseRepository}:${target.tag}`)
      // The commit the restored release holds, read from the container now serving it.
      report.commit = await readCommit(
        remote,
        report.containerId ?? production.name,
        settings.repoPath
      ).catch(() => undefined)
      report.outcome = 'deployed'
      return report
    }

    // 4. What is going out: the commits and files from production's commit to `ref`.
    const skip = await step(
      `Compare ${short(report.previousCommit)}..${short(settings.ref)}`,
      async () => {
        const range = deps.compare
          ? await deps.compare(report.previousCommit!, settings.ref)
          : undefined
        if (range?.source === 'github') {
          report.rangeSource = 'github'
          report.commits = range.commits.map(c => `${c.sha.slice(0, 7)} ${c.subject} (${c.author})`)
          report.changedFiles = range.files
          runner.info(
            `${range.commits.length} commits, ${range.files.length} files changed (GitHub compare: ${range.status})`
          )
          report.commits.forEach(line => runner.info(`  ${line}`))
        } else if (range) {
          runner.info(
            `GitHub's compare API is not available (${range.reason}); the range comes from git on the host.`
          )
        }
        const decision = decidePaths(settings.paths, range?.source === 'github' ? range : undefined)
        if (decision.reason && decision.deploy) runner.info(decision.reason)
        return decision.deploy ? undefined : decision.reason
      }
    )
    if (skip && !settings.force) return unchanged(skip)
    if (skip) runner.info(`${skip} Deploying anyway: \`force\` is on.`)
    await startDeployment()

    // 5. The admin container: a copy of production in which the release is made.
    await step('Create the admin container', async () => {
      const stale = containers.find(c => c.name === admin)
      if (admin === production.name || stale?.id === production.id) {
        throw new DeployError(
          `The admin container name ${admin} is the production container; set \`admin-container\` to another name.`
        )
      }
      // Under the lock, an admin container of ours is a dead run's, whatever still runs in it.
      if (stale?.running && stale.execIds.length > 0 && !docker.isOurAdmin(stale)) {
        throw new DeployError(
          `Someone is working in ${admin}: it has ${stale.execIds.length} open \`docker exec\` session(s), as when the runbook is followed by hand. ` +
            'Production is unchanged. Finish that session (or remove the container if it is abandoned), then deploy again.'
        )
      }
      if (stale) {
        runner.warning(
          `Removing ${admin} (${short(stale.id)}, ${stale.status}, created ${stale.created}): an admin container left by an earlier run. It is not production.`,
          'Stale admin container'
        )
        await remote.run(docker.removeContainer(stale.id), 'docker rm -f (stale admin container)')
      }
      adminName = admin
      progress({ phase: 'admin', adminContainer: admin })
      await remote.run(
        docker.runAdmin({
          name: admin,
          imageId: previousImage.id,
          hasEntrypoint: docker.hasEntrypoint(previousImage.config),
          networkMode: production.networkMode,
          user: adminUser(production, previousImage)
        }),
        'docker run (admin container)'
      )
      runner.info(`Created ${admin} from ${short(previousImage.id)}`)
    })

    // Production's own environment (what the supervisor adds beyond the image's) reaches the
    // build and git through an env-file on stdin: never on a command line, never baked into the image.
    const runtimeEnv = extraEnv(production.env, previousImage.config.Env ?? [])
    const envStdin = runtimeEnv.length > 0 ? runtimeEnv.join('\n') + '\n' : undefined
    const inAdmin = (command: Command) =>
      docker.exec(admin, command, {
        workdir: settings.repoPath,
        envFromStdin: envStdin !== undefined
      })

    // 6. Check the tree (the runbook's `git diff` before pulling), and fetch.
    const relation = await step('Check the checkout for local changes', async () => {
      const found = git.parseRelation(
        await remote.run(
          inAdmin(git.fetchAndRelate(settings.branch, settings.ref)),
          `git status; git fetch origin ${settings.branch}`,
          SLOW_MS,
          envStdin
        )
      )
      if (found.changed) {
        throw new DeployError(
          `The checkout at ${settings.repoPath} in the production image has uncommitted changes:\n${found.changed}\n` +
            'They would be lost or shipped by accident. Commit them to the repository or discard them on the host, then deploy again.'
        )
      }
      runner.info('No local changes')
      return found
    })

    // 7. Update to the exact commit from origin, fast-forward only.
    const target = await step(
      `Update to ${settings.ref} from origin/${settings.branch}`,
      async () => {
        const decision = decideUpdate(settings, relation)
        if (decision.kind === 'refuse') throw new DeployError(decision.message)
        if (decision.kind === 'unchanged') return { skip: decision.message }
        if (settings.paths.length > 0 && !report.changedFiles && !settings.force) {
          // GitHub's API gave no file list: the path filter decides from git on the host.
          const files = (
            await remote.run(
              inAdmin(git.filesBetween(relation.head, relation.target)),
              'git diff --name-only',
              QUICK_MS,
              envStdin
            )
          )
            .split('\n')
            .filter(Boolean)
          report.changedFiles = files
          const paths = decidePaths(settings.paths, { files, truncated: false })
          if (!paths.deploy) return { skip: paths.reason }
        }
        const range = git.parseRange(
          await remote.run(
            inAdmin(git.fastForward(relation.target)),
            'git merge --ff-only',
            QUICK_MS,
            envStdin
          )
        )
        if (report.rangeSource !== 'github') {
          report.rangeSource = 'git'
          report.commits = range.commits
        }
        report.diffStat = range.diffStat
        runner.info(
          `Deploying ${short(relation.head)}..${short(relation.target)} (${range.commits.length} commits):`
        )
        for (const line of range.commits) runner.info(`  ${line}`)
        if (range.diffStat) runner.info(range.diffStat)
        return { commit: relation.target }
      }
    )
    if (target.skip !== undefined) return unchanged(target.skip)
    const commit = target.commit!
    report.commit = commit

    // 8. Build, streaming the output as it comes. `build-env` joins production's environment on
    // stdin: the values never appear on a command line on the host.
    await step(`Build (${settings.buildCommand})`, async () => {
      const env = [...runtimeEnv, ...settings.buildEnv]
      const build = docker.exec(admin, ['sh', '-c', settings.buildCommand], {
        workdir: settings.repoPath,
        envFromStdin: env.length > 0
      })
      runner.debug(`$ ${build.join(' ')}`)
      const result = await remote.shell.exec(build, {
        label: `build command \`${settings.buildCommand}\``,
        timeoutMs: settings.commandTimeoutSec * 1000,
        onOutput: chunk => runner.stream(chunk),
        drained: () => runner.drained(),
        stdin: env.length > 0 ? env.join('\n') + '\n' : undefined
      })
      if (result.code !== 0) {
        throw new DeployError(
          `The build command \`${settings.buildCommand}\` exited with code ${result.code}; production is unchanged. ` +
            'Its output is above; fix the build and deploy again.'
        )
      }
    })

    // 9. Commit the admin container as the image, keeping the current one for a rollback.
    progress({
      phase: 'releasing',
      adminContainer: admin,
      previousImageId: previousImage.id,
      service
    })
    // A plain host: the release is known by its ID until the swap moves the tag the supervisor
    // starts. A Swarm service: the release's own tag, to push.
    const releaseName = service ? `${releaseRepository}:${releaseTag(commit)}` : undefined
    const released = await step('Commit the release image', async () => {
      const message = `hermes-deploy ${commit}`
      const flattened = previousImage.layers >= settings.maxLayers
      let newImage: ImageInfo
      if (flattened) {
        const flat = await flatten(
          remote,
          admin,
          releaseRepository,
          releaseName,
          previousImage,
          message
        )
        newImage = docker.parseImage(
          JSON.parse(await remote.run(docker.inspectImage(flat), 'docker image inspect'))
        )
        await remote.run(docker.removeContainer(admin), 'docker rm -f (admin container)')
      } else {
        // One round trip: commit, read the result, drop the admin container.
        const out = await remote.run(
          chain(
            docker.commitAndInspect(
              docker.commit({
                container: admin,
                image: releaseName,
                original: previousImage.config,
                adminUser: adminUser(production, previousImage),
                message
              })
            ),
            docker.removeContainer(admin)
          ),
          'docker commit; docker image inspect; docker rm -f (admin container)',
          SLOW_MS
        )
        newImage = docker.parseImage(
          JSON.parse(out.split('\n').find(line => line.startsWith('{'))!)
        )
      }
      adminName = undefined
      progress({
        phase: 'releasing',
        adminContainer: admin,
        previousImageId: previousImage.id,
        releasedImageId: newImage.id,
        service
      })
      const drift = docker.configDrift(previousImage.config, newImage.config)
      if (drift.length > 0) {
        await remote
          .run(['docker', 'rmi', releaseName ?? newImage.id], 'docker rmi (release)')
          .catch(() => undefined)
        throw new DeployError(
          `The committed image changed the image config (${drift.join(', ')}); the release was removed and ` +
            (service
              ? 'the service is unchanged.'
              : `production is unchanged (${settings.image.name} still names ${short(previousImage.id)}).`)
        )
      }
      if (flattened) {
        report.flattened = { layersBefore: previousImage.layers, layersAfter: newImage.layers }
        runner.info(
          `Flattened: the image had ${previousImage.layers} layers (\`max-layers\` ${settings.maxLayers}); the release has ${newImage.layers}.`
        )
      }
      runner.info(
        service
          ? `${releaseName} is ${short(newImage.id)}`
          : `The release is ${short(newImage.id)}; ${settings.image.name} names ${short(previousImage.id)} until the swap`
      )
      return newImage
    })
    report.imageId = released.id

    // 10. A canary before the swap: a release that cannot start never replaces production.
    if (settings.canarySeconds > 0 || settings.canaryCommand) {
      await step('Canary', () =>
        canary(remote, runner, settings, production, previousImage, released)
      )
    }

    // 11. Replace production: the supervisor respawns it from the new image (or Swarm rolls it out).
    await replaceProduction(released, releaseName ?? settings.image.name)

    // 12. Keep the release (tagged with its commit) and the last few before it; prune the rest.
    await step('Retain releases', async () => {
      report.retention = parseRetention(
        await remote.run(
          retain(
            releaseRepository,
            settings.keepReleases,
            { id: released.id, tag: releaseTag(commit) },
            [released.id, previousImage.id]
          ),
          'docker tag (release); retention',
          SLOW_MS
        )
      )
      const { removed, pruned, diskBefore, diskAfter } = report.retention
      runner.info(
        `Kept ${report.retention.kept.length} releases; removed ${removed.length} old release tags and ${pruned} unused images. Images use ${diskAfter} (was ${diskBefore}).`
      )
    }).catch(error => {
      // The release is out and healthy: a failed clean-up is worth a warning, not a failed job.
      runner.warning(`Could not prune old releases: ${message(error)}`, 'Retention')
    })

    report.outcome = 'deployed'
    return report

    /** Remove production; the supervisor starts `release`; health, stability; roll back on failure. */
    async function replaceProduction(release: ImageInfo, ref: string): Promise<void> {
      if (service) {
        await step(`Update the Swarm service ${service}`, () => updateService(release, ref))
        return
      }
      await step('Replace production', async () => {
        if (settings.rollbackTo) {
          progress({
            phase: 'releasing',
            previousImageId: previousImage.id,
            releasedImageId: release.id
          })
          report.imageId = release.id
        }
        try {
          report.containerId = await waitForServing(
            remote,
            runner,
            release.id,
            serve(admin),
            swap({
              repository: settings.image.repository,
              image: settings.image.name,
              previousImageId: previousImage.id,
              releaseId: release.id,
              production: production.id
            })
          )
          progress({ phase: 'done' })
        } catch (error) {
          await rollBack(error, release)
          throw error
        }
      })
    }

    /**
     * Push the release and hand it to Swarm's rolling update; Swarm's health checks and its
     * failure action decide. The health command, when given, runs after Swarm converged; when it
     * fails, Swarm is asked to roll back.
     */
    async function updateService(release: ImageInfo, ref: string): Promise<void> {
      const swarm = { service: service!, ref, repository: releaseRepository }
      report.imageId = release.id
      // What the service ran stays at hand for `rollback-to: previous`.
      if (!settings.rollbackTo)
        await remote.run(
          docker.tag(previousImage.id, rollbackTag(releaseRepository)),
          'docker tag (rollback tag)'
        )
      let result = await rollOutService(remote, runner, settings, {
        ...swarm,
        push: !settings.rollbackTo
      })
      report.swarm = { service: swarm.service, ...result }
      if (result.outcome.kind === 'converged' && settings.healthCommand) {
        const health = await remote.exec(
          docker.healthCheck(settings.healthCommand, settings.healthTimeoutSec),
          'health command',
          settings.healthTimeoutSec * 1000 + QUICK_MS
        )
        if (health.code === 0) runner.info(`Health command ${health.stdout.trim()}`)
        else if (settings.rollback) {
          const why = `Swarm converged, but the health command did not pass within ${settings.healthTimeoutSec} s (\`health-timeout\`). Its last output:\n${(health.stdout + health.stderr).trim()}`
          runner.warning(`${why}\nAsking Swarm to roll back.`, 'Rolling back')
          result = await rollBackService(remote, runner, settings, swarm.service)
          report.swarm = { service: swarm.service, ...result }
          if (result.outcome.kind === 'rolled-back') result.outcome.why = why
        } else {
          throw new DeployError(
            `The health command did not pass within ${settings.healthTimeoutSec} s (\`health-timeout\`), and rollback is off: the service runs the release.`
          )
        }
      }
      progress({ phase: 'done' })
      const { outcome } = result
      if (outcome.kind === 'converged') {
        // The task on this node, when Swarm placed one here.
        const { containers } = await remote.survey(settings.image.name)
        report.containerId = containers.find(
          c => c.running && c.imageId === release.id && c.labels[SERVICE_LABEL] === service
        )?.id
        runner.info(`Swarm converged: ${service} runs ${short(release.id)}`)
        return
      }
      if (outcome.kind === 'rolled-back') {
        report.rolledBack = true
        report.outcome = 'rolled-back'
        report.rollbackDetail = `${outcome.why}\nThe service is back on ${short(previousImage.id)} (commit ${report.previousCommit}).`
      }
      throw new DeployError(
        outcome.kind === 'rolled-back'
          ? outcome.why
          : `${outcome.why}\nThe service may run a mix of releases: see \`docker service ps ${service}\` on the host; \`docker service rollback ${service}\` puts the previous one back.`
      )
    }

    async function rollBack(cause: unknown, release: ImageInfo): Promise<void> {
      if (!settings.rollback) {
        runner.error(
          `Rollback is off: production runs the failed release. To roll back by hand: docker tag ${rollbackTag(settings.image.repository)} ${settings.image.name} && docker rm -f <new container>`,
          'Rollback skipped'
        )
        progress({ phase: 'done' })
        return
      }
      runner.warning(
        `Rolling back to ${short(previousImage.id)}: ${message(cause)}`,
        'Rolling back'
      )
      const restored = await restorePrevious(remote, runner, {
        image: settings.image.name,
        repository: settings.image.repository,
        previousImageId: previousImage.id,
        failedImageId: release.id,
        production,
        previousConfig: previousImage.config,
        serve: serve(admin, 0)
      }).catch(error => {
        throw new DeployError(
          `ROLLBACK FAILED: ${message(error)}\nProduction may be down. ${settings.image.name} is back on ${short(previousImage.id)}; check the supervisor on the host.`
        )
      })
      progress({ phase: 'done' })
      report.rolledBack = true
      report.containerId = restored
      report.rollbackDetail = `${message(cause)}\nRestored ${short(previousImage.id)} (commit ${report.previousCommit}); container ${short(restored)} serves it.`
      report.outcome = 'rolled-back'
    }

    function unchanged(reason: string): DeployReport {
      report.outcome = 'unchanged'
      report.reason = reason
      report.commit = report.previousCommit
      report.imageId = report.previousImageId
      report.containerId = production.id
      runner.info(reason)
      return report
    }
  } catch (error) {
    // The report is the result either way: outputs and summary are written for a failure too.
    report.reason = message(error)
    report.failedStep = error instanceof DeployError ? error.step : undefined
    if (report.outcome !== 'rolled-back') report.outcome = 'failed'
    return report
  } finally {
    // 13. Always: record the attempt, remove the admin container, release the lock, end the session.
    if (host) {
      if (lock && (report.outcome !== 'unchanged' || report.action === 'rollback')) {
        await recordAttempt(host, settings, deps, report, now() - started)
      }
      if (deploymentStarted && deps.deployment) {
        const success = report.outcome === 'deployed' || report.outcome === 'unchanged'
        const result = await deps.deployment.finish(
          success ? 'success' : 'failure',
          success ? undefined : report.reason?.split('\n')[0]
        )
        if (result.warning) runner.warning(result.warning, 'GitHub deployment')
      }
      await cleanUp(host, adminName, lock, runner, progress, report)
    }
  }
}

/** The commit checked out at repo-path in a container. */
async function readCommit(host: Host, container: string, repoPath: string): Promise<string> {
  try {
    return (
      await host.run(
        docker.exec(container, git.currentCommit(), { workdir: repoPath }),
        'git rev-parse HEAD'
      )
    ).trim()
  } catch (error) {
    throw new DeployError(
      `Could not read the commit at ${repoPath} in ${container}: ${message(error)}\n` +
        'Check `repo-path`: it must be the git checkout of the app inside the container.'
    )
  }
}

async function cleanUp(
  host: Host,
  adminName: string | undefined,
  lock: HeldLock | undefined,
  runner: Runner,
  progress: (p: Progress) => void,
  report: DeployReport
): Promise<void> {
  try {
    if (adminName)
      await host.run(docker.removeContainer(adminName), 'docker rm -f (admin container)')
    // Nothing is half-done any more unless a release is out unconfirmed; then the post step checks.
    if (report.outcome !== 'failed' || !report.imageId) progress({ phase: 'done' })
  } catch (error) {
    runner.warning(
      `Could not remove the admin container ${adminName}: ${message(error).replace(/\.$/, '')}. The next run removes it.`
    )
  }
  await lock
    ?.release()
    .catch(error => runner.warning(`Could not release the deploy lock: ${message(error)}`))
  await host.shell.close()
}
