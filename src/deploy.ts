import * as docker from './docker.js'
import type { ContainerInfo, ImageInfo } from './docker.js'
import { formatDuration, message, psTable, short } from './format.js'
import * as git from './git.js'
import {
  DeployError,
  Host,
  QUICK_MS,
  restorePrevious,
  rollbackTag,
  SLOW_MS,
  waitForServing,
  type ServeOptions
} from './host.js'
import type { Settings } from './inputs.js'
import { acquireLock, type HeldLock, type LockHolder } from './lock.js'
import type { Runner } from './runner.js'
import type { Command, RemoteShell } from './shell.js'
import type { Progress } from './state.js'

export { DeployError, rollbackTag } from './host.js'

export interface StepRecord {
  name: string
  status: 'ok' | 'failed'
  durationMs: number
}

export interface DeployReport {
  outcome: 'deployed' | 'unchanged' | 'dry-run' | 'failed' | 'rolled-back'
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
  commits: string[]
  diffStat?: string
  rolledBack: boolean
  rollbackDetail?: string
  /** The plan printed by a dry run. */
  plan?: string[]
}

export interface DeployDeps {
  connect: () => Promise<RemoteShell>
  runner: Runner
  /** Who is deploying, written into the lock for a waiting run to show. */
  holder: LockHolder
  /** Called as the deploy passes each point the post step must know about. */
  progress?: (progress: Progress) => void
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
  const progress = deps.progress ?? (() => {})
  const report: DeployReport = {
    outcome: 'failed',
    image: settings.image.name,
    host: settings.host,
    steps: [],
    commits: [],
    rolledBack: false
  }

  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = now()
    return runner.group(name, async () => {
      try {
        const result = await fn()
        const durationMs = now() - started
        report.steps.push({ name, status: 'ok', durationMs })
        runner.info(`✓ ${name} (${formatDuration(durationMs)})`)
        return result
      } catch (error) {
        const durationMs = now() - started
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
  const serve = (ignore: string): ServeOptions => ({
    respawnTimeoutSec: settings.respawnTimeoutSec,
    healthCommand: settings.healthCommand,
    healthTimeoutSec: settings.healthTimeoutSec,
    ignore
  })

  try {
    // 1. Connect over SSH: one connection for the whole deploy.
    host = new Host(await step('Connect', () => deps.connect()), runner)
    const remote = host

    // Two runs must never interleave their steps; the lock comes before `docker ps` so that what
    // this run sees is not changed under it by another.
    if (!settings.dryRun) {
      lock = await step('Take the deploy lock', () =>
        acquireLock(remote.shell, {
          repository: settings.image.repository,
          holder: deps.holder,
          timeoutSec: settings.lockTimeoutSec,
          onWait: holder => runner.info(`Waiting for the deploy lock, held by ${holder}`),
          onTakeover: detail =>
            runner.warning(
              `Took over a deploy lock left by a run that is gone: ${detail}.`,
              'Stale deploy lock'
            )
        })
      )
      progress({ phase: 'started' })
    }

    // 2. See what runs (the runbook's `docker ps`) and pick the production container.
    const { production, image, containers } = await step(
      'Find the production container',
      async () => {
        const survey = await remote.survey(settings.image.name)
        const found = findProduction(settings, survey.containers, survey.image)
        runner.info(
          `Production: container ${found.name} (${short(found.id)}) running ${short(found.imageId)}`
        )
        if (!survey.image) {
          throw new DeployError(
            `Image ${settings.image.name} is not on the host, yet ${found.name} runs ${found.imageName}. ` +
              'Set `image` to the image the supervisor starts (see `docker ps` on the host).'
          )
        }
        return { production: found, image: survey.image, containers: survey.containers }
      }
    )
    report.productionContainer = production.name
    report.previousImageId = production.imageId
    const admin = settings.adminContainer ?? `${production.name}-admin`

    // 3. Read what production runs: its image and the commit checked out at repo-path.
    const previousImage = await step('Read what production runs', async () => {
      report.previousCommit = (
        await remote
          .run(
            docker.exec(production.name, git.currentCommit(), { workdir: settings.repoPath }),
            'git rev-parse HEAD'
          )
          .catch(error => {
            throw new DeployError(
              `Could not read the commit at ${settings.repoPath} in ${production.name}: ${message(error)}\n` +
                'Check `repo-path`: it must be the git checkout of the app inside the container.'
            )
          })
      ).trim()
      if (image.id !== production.imageId) {
        runner.warning(
          `${production.name} runs ${short(production.imageId)}, not the image ${settings.image.name} now names (${short(image.id)}): ` +
            'the release is built from what production runs.'
        )
      }
      const previous =
        image.id === production.imageId
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
        dryRun(settings, production, previousImage, admin, report, remote, runner)
      )
      report.outcome = 'dry-run'
      return report
    }

    // 4. The admin container: a copy of production in which the release is made.
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

    // 5. Check the tree: the runbook's `git diff` before pulling.
    await step('Check the checkout for local changes', async () => {
      const changed = (
        await remote.run(inAdmin(git.changedFiles()), 'git status', QUICK_MS, envStdin)
      ).trim()
      if (changed) {
        throw new DeployError(
          `The checkout at ${settings.repoPath} in the production image has uncommitted changes:\n${changed}\n` +
            'They would be lost or shipped by accident. Commit them to the repository or discard them on the host, then deploy again.'
        )
      }
      runner.info('No local changes')
    })

    // 6. Update to the exact commit from origin, fast-forward only.
    const target = await step(
      `Update to ${settings.ref} from origin/${settings.branch}`,
      async () => {
        const relation = git.parseRelation(
          await remote.run(
            inAdmin(git.fetchAndRelate(settings.branch, settings.ref)),
            `git fetch origin ${settings.branch}`,
            SLOW_MS,
            envStdin
          )
        )
        const decision = decideUpdate(settings, relation)
        if (decision.kind === 'refuse') throw new DeployError(decision.message)
        if (decision.kind === 'unchanged') {
          report.reason = decision.message
          return undefined
        }
        const range = git.parseRange(
          await remote.run(
            inAdmin(git.fastForward(relation.target)),
            'git merge --ff-only',
            QUICK_MS,
            envStdin
          )
        )
        report.commits = range.commits
        report.diffStat = range.diffStat
        runner.info(
          `Deploying ${short(relation.head)}..${short(relation.target)} (${range.commits.length} commits):`
        )
        for (const line of range.commits) runner.info(`  ${line}`)
        if (range.diffStat) runner.info(range.diffStat)
        return relation.target
      }
    )
    if (!target) {
      report.outcome = 'unchanged'
      report.commit = report.previousCommit
      report.imageId = report.previousImageId
      report.containerId = production.id
      runner.info(report.reason!)
      return report
    }
    report.commit = target

    // 7. Build, streaming the output as it comes.
    await step(`Build (${settings.buildCommand})`, async () => {
      runner.debug(`$ ${inAdmin(['sh', '-c', settings.buildCommand]).join(' ')}`)
      const result = await remote.shell.exec(inAdmin(['sh', '-c', settings.buildCommand]), {
        label: `build command \`${settings.buildCommand}\``,
        timeoutMs: settings.commandTimeoutSec * 1000,
        onOutput: chunk => runner.stream(chunk),
        stdin: envStdin
      })
      if (result.code !== 0) {
        throw new DeployError(
          `The build command \`${settings.buildCommand}\` exited with code ${result.code}; production is unchanged. ` +
            'Its output is above; fix the build and deploy again.'
        )
      }
    })

    // 8. Commit the admin container as the image, keeping the current one for a rollback.
    progress({ phase: 'releasing', adminContainer: admin, previousImageId: previousImage.id })
    const released = await step('Commit the release image', async () => {
      await remote.run(
        docker.tag(previousImage.id, rollbackTag(settings.image.repository)),
        'docker tag (rollback tag)'
      )
      const committed = await remote.run(
        docker.commit({
          container: admin,
          image: settings.image.name,
          original: previousImage.config,
          adminUser: adminUser(production, previousImage),
          message: `hermes-deploy ${target}`
        }),
        'docker commit',
        SLOW_MS
      )
      const newImage = docker.parseImage(
        JSON.parse(await remote.run(docker.inspectImage(committed.trim()), 'docker image inspect'))
      )
      progress({
        phase: 'releasing',
        adminContainer: admin,
        previousImageId: previousImage.id,
        releasedImageId: newImage.id
      })
      const drift = docker.configDrift(previousImage.config, newImage.config)
      if (drift.length > 0) {
        await remote.run(docker.tag(previousImage.id, settings.image.name), 'docker tag (restore)')
        throw new DeployError(
          `The committed image changed the image config (${drift.join(', ')}); ${settings.image.name} was put back on ${short(previousImage.id)} and production is unchanged.`
        )
      }
      runner.info(
        `${settings.image.name} is now ${short(newImage.id)} (was ${short(previousImage.id)}, kept as ${rollbackTag(settings.image.repository)})`
      )
      return newImage
    })
    report.imageId = released.id
    // The admin container has done its work; removing it now keeps `docker ps` unambiguous.
    await remote.run(docker.removeContainer(admin), 'docker rm -f (admin container)')
    adminName = undefined

    // 9. Replace production: the supervisor respawns it from the new image.
    await step('Replace production', async () => {
      await remote.run(docker.removeContainer(production.id), 'docker rm -f (production container)')
      try {
        report.containerId = await waitForServing(remote, runner, released.id, serve(admin))
      } catch (error) {
        await rollBack(error)
        throw error
      }
    })

    progress({ phase: 'done' })
    report.outcome = 'deployed'
    return report

    async function rollBack(cause: unknown): Promise<void> {
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
        failedImageId: released.id,
        production,
        previousConfig: previousImage.config,
        serve: serve(admin)
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
  } catch (error) {
    // The report is the result either way: outputs and summary are written for a failure too.
    report.reason = message(error)
    report.failedStep = error instanceof DeployError ? error.step : undefined
    if (report.outcome !== 'rolled-back') report.outcome = 'failed'
    return report
  } finally {
    // 10. Always: remove the admin container, release the lock, end the session.
    if (host) await cleanUp(host, adminName, lock, runner, progress, report)
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

/** The user production runs as, when it differs from the image's own. */
function adminUser(production: ContainerInfo, image: ImageInfo): string | undefined {
  return production.user !== (image.config.User ?? '') ? production.user : undefined
}

/** Pick the production container: the one named by `container`, or the one running `image`. */
export function findProduction(
  settings: Settings,
  containers: ContainerInfo[],
  image?: ImageInfo
): ContainerInfo {
  const running = containers.filter(c => c.running)
  if (settings.container) {
    const named = running.find(
      c => c.name === settings.container || c.id.startsWith(settings.container!)
    )
    if (named) return named
    throw new DeployError(
      `No running container is named ${settings.container} (\`container\`). Running now:\n${psTable(running)}`
    )
  }
  const names = new Set([
    settings.image.name,
    settings.image.tag === 'latest' ? settings.image.repository : ''
  ])
  let candidates = running.filter(c => names.has(c.imageName) || (image && c.imageId === image.id))
  if (candidates.length > 1) {
    // An admin copy runs the same image: the one named by `admin-container`, or `<candidate>-admin`.
    const candidateNames = new Set(candidates.map(c => c.name))
    candidates = candidates.filter(
      c =>
        c.name !== settings.adminContainer &&
        !(c.name.endsWith('-admin') && candidateNames.has(c.name.slice(0, -'-admin'.length)))
    )
  }
  if (candidates.length === 1) return candidates[0]
  if (candidates.length === 0) {
    throw new DeployError(
      `No running container runs ${settings.image.name}. Running now:\n${psTable(running)}\nCheck \`image\`, or name the container with \`container\`.`
    )
  }
  throw new DeployError(
    `${candidates.length} running containers run ${settings.image.name}:\n${psTable(candidates)}\nName the production one with \`container\`.`
  )
}

export type UpdateDecision =
  { kind: 'update' } | { kind: 'unchanged'; message: string } | { kind: 'refuse'; message: string }

/** Only a fast-forward to a commit on the branch is deployed. */
export function decideUpdate(settings: Settings, relation: git.Relation): UpdateDecision {
  const where = `origin/${settings.branch}`
  if (!relation.target) {
    return {
      kind: 'refuse',
      message: `Commit ${settings.ref} was not found in ${where} after fetching. Push it first, or set \`ref\` (and \`branch\`) to a commit of the app's repository.`
    }
  }
  if (relation.target === relation.head) {
    return {
      kind: 'unchanged',
      message: `Production already runs ${relation.target}; nothing to deploy.`
    }
  }
  if (!relation.onBranch) {
    return {
      kind: 'refuse',
      message: `Commit ${short(relation.target)} is not on ${where}. Only commits of \`branch\` are deployed; set \`branch\` to the branch that holds it.`
    }
  }
  if (relation.behind) {
    // Two merges deployed at once: the later one got there first and includes this one.
    return {
      kind: 'unchanged',
      message: `Production runs ${short(relation.head)}, which already contains ${short(relation.target)}: nothing to deploy. Going back to an older commit is a rollback, not a deploy.`
    }
  }
  if (!relation.fastForward) {
    return {
      kind: 'refuse',
      message:
        `The checkout in production (${short(relation.head)}) has diverged from ${where}: it has commits that ${short(relation.target)} does not. ` +
        'Deploying would drop them. Merge or push them to origin, or reset the checkout on the host, then deploy again.'
    }
  }
  return { kind: 'update' }
}

async function dryRun(
  settings: Settings,
  production: ContainerInfo,
  image: ImageInfo,
  adminName: string,
  report: DeployReport,
  host: Host,
  runner: Runner
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
  const rollback = rollbackTag(settings.image.repository)
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
    `docker tag ${short(image.id)} ${rollback}; docker commit ${adminName} ${settings.image.name} (ENTRYPOINT and CMD restored)`,
    `docker rm -f ${production.name}; wait up to ${settings.respawnTimeoutSec} s for the supervisor's new container` +
      (settings.healthCommand ? `; health command up to ${settings.healthTimeoutSec} s` : ''),
    settings.rollback
      ? `on failure: docker tag ${rollback} ${settings.image.name} and replace again`
      : 'on failure: no rollback (rollback: false)'
  ]
  runner.info('Dry run: nothing was changed. The deploy would:')
  report.plan.forEach((line, i) => runner.info(`  ${i + 1}. ${line}`))
}

/** Variables production has that its image does not define: the supervisor's own settings. */
export function extraEnv(containerEnv: string[], imageEnv: string[]): string[] {
  const fromImage = new Set(imageEnv)
  // An env-file cannot carry a newline inside a value.
  return containerEnv.filter(entry => !fromImage.has(entry) && !entry.includes('\n'))
}
