import * as docker from './docker.js'
import * as git from './git.js'
import type { Settings } from './inputs.js'
import type { Runner } from './runner.js'
import { RemoteCommandError, run, type Command, type RemoteShell } from './shell.js'
import type { ContainerInfo, ImageInfo } from './docker.js'

/** Where the previous release stays during a deploy, so a rollback is one `docker tag`. */
export function rollbackTag(repository: string): string {
  return `${repository}:hermes-previous`
}

/** Bound for quick remote commands (docker ps, inspect, tag, rm): none should take near this. */
const QUICK_MS = 60_000
/** docker commit writes a layer; fetch talks to origin. Bounded, but given room. */
const SLOW_MS = 10 * 60_000

export interface StepRecord {
  name: string
  status: 'ok' | 'failed' | 'skipped'
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

/** A failure the user can act on; `step` says where the deploy stopped. */
export class DeployError extends Error {
  step?: string
  constructor(message: string) {
    super(message)
    this.name = 'DeployError'
  }
}

export interface DeployDeps {
  connect: () => Promise<RemoteShell>
  runner: Runner
  now?: () => number
}

/**
 * The runbook, step by step. Returns the report also when the deploy fails (outcome `failed` or
 * `rolled-back`, with the reason and the step). Every failure before "Replace production" leaves production exactly
 * as it was; a failure after it rolls back (when `rollback` is on). The admin container is
 * removed and the session closed whatever happens.
 */
export async function deploy(settings: Settings, deps: DeployDeps): Promise<DeployReport> {
  const { runner } = deps
  const now = deps.now ?? (() => performance.now())
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
        if (error instanceof DeployError) error.step ??= name
        else if (error instanceof Error)
          throw Object.assign(new DeployError(error.message), { step: name })
        throw error
      }
    })
  }

  let shell: RemoteShell | undefined
  let adminCreated = false
  const admin = { name: '' }
  const exec = (
    command: Command,
    label: string,
    timeoutMs = QUICK_MS,
    extra: { stdin?: string } = {}
  ) => {
    runner.debug(`$ ${command.join(' ')}`)
    return run(shell!, command, { label, timeoutMs, ...extra })
  }

  try {
    // 1. Connect over SSH: one connection for the whole deploy.
    shell = await step('Connect', () => deps.connect())
    const remote = shell

    // 2. See what runs (the runbook's `docker ps`) and pick the production container.
    const { production, image, containers } = await step(
      'Find the production container',
      async () => {
        const survey = docker.parseSurvey(
          await exec(docker.survey(settings.image.name), 'docker ps')
        )
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
    admin.name = settings.adminContainer ?? `${production.name}-admin`

    // 3. Read what production runs: its image and the commit checked out at repo-path.
    const previousImage = await step('Read what production runs', async () => {
      report.previousCommit = (
        await exec(
          docker.exec(production.name, git.currentCommit(), { workdir: settings.repoPath }),
          'git rev-parse HEAD'
        ).catch(error => {
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
                await exec(docker.inspectImage(production.imageId), 'docker image inspect')
              )
            )
      runner.info(
        `Image ${short(previous.id)}, commit ${report.previousCommit}, ${previous.layers} layers`
      )
      return previous
    })

    if (settings.dryRun) {
      await step('Plan (dry run)', () =>
        dryRun(settings, production, previousImage, admin.name, report, exec, runner)
      )
      report.outcome = 'dry-run'
      return report
    }

    // 4. The admin container: a copy of production in which the release is made.
    await step('Create the admin container', async () => {
      if (admin.name === production.name) {
        throw new DeployError(
          `The admin container name ${admin.name} is the production container; set \`admin-container\` to another name.`
        )
      }
      const stale = containers.find(c => c.name === admin.name)
      if (stale) {
        if (stale.id === production.id) {
          throw new DeployError(
            `The admin container ${admin.name} is the production container; set \`admin-container\` to another name.`
          )
        }
        runner.warning(
          `Removing ${admin.name} (${short(stale.id)}, ${stale.status}, created ${stale.created}): an admin container left by an earlier run. It is not production.`,
          'Stale admin container'
        )
        await exec(docker.removeContainer(stale.id), 'docker rm -f (stale admin container)')
      }
      const imageUser = previousImage.config.User ?? ''
      adminCreated = true
      await exec(
        docker.runAdmin({
          name: admin.name,
          imageId: previousImage.id,
          hasEntrypoint: docker.hasEntrypoint(previousImage.config),
          networkMode: production.networkMode,
          user: production.user !== imageUser ? production.user : undefined
        }),
        'docker run (admin container)'
      )
      runner.info(`Created ${admin.name} from ${short(previousImage.id)}`)
    })

    // Production's own environment (what the supervisor adds beyond the image's) reaches the
    // build and git through an env-file on stdin: never on a command line, never baked into the image.
    const runtimeEnv = extraEnv(production.env, previousImage.config.Env ?? [])
    const inAdmin = (command: Command) =>
      docker.exec(admin.name, command, {
        workdir: settings.repoPath,
        envFromStdin: runtimeEnv.length > 0
      })
    const envStdin = runtimeEnv.length > 0 ? { stdin: runtimeEnv.join('\n') + '\n' } : {}

    // 5. Check the tree: the runbook's `git diff` before pulling.
    await step('Check the checkout for local changes', async () => {
      const changed = (
        await exec(inAdmin(git.changedFiles()), 'git status', QUICK_MS, envStdin)
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
          await exec(
            inAdmin(git.fetchAndRelate(settings.branch, settings.ref)),
            `git fetch origin ${settings.branch}`,
            SLOW_MS,
            envStdin
          )
        )
        const decision = decideUpdate(settings, relation)
        if (decision.kind === 'refuse') throw new DeployError(decision.message)
        if (decision.kind === 'unchanged') return undefined
        const range = git.parseRange(
          await exec(
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
      report.reason = `Production already runs ${report.previousCommit}; nothing to deploy.`
      runner.info(report.reason)
      return report
    }
    report.commit = target

    // 7. Build, streaming the output as it comes.
    await step(`Build (${settings.buildCommand})`, async () => {
      const result = await shell!.exec(inAdmin(['sh', '-c', settings.buildCommand]), {
        label: `build command \`${settings.buildCommand}\``,
        timeoutMs: settings.commandTimeoutSec * 1000,
        onOutput: chunk => runner.stream(chunk),
        ...envStdin
      })
      if (result.code !== 0) {
        throw new DeployError(
          `The build command \`${settings.buildCommand}\` exited with code ${result.code}; production is unchanged. ` +
            'Its output is above; fix the build and deploy again.'
        )
      }
    })

    // 8. Commit the admin container as the image, keeping the current one for a rollback.
    const released = await step('Commit the release image', async () => {
      await exec(
        docker.tag(previousImage.id, rollbackTag(settings.image.repository)),
        'docker tag (rollback tag)'
      )
      const committed = await exec(
        docker.commit({
          container: admin.name,
          image: settings.image.name,
          original: previousImage.config,
          adminUser:
            production.user !== (previousImage.config.User ?? '') ? production.user : undefined,
          message: `hermes-deploy ${target}`
        }),
        'docker commit',
        SLOW_MS
      )
      const newImage = docker.parseImage(
        JSON.parse(await exec(docker.inspectImage(committed.trim()), 'docker image inspect'))
      )
      const drift = docker.configDrift(previousImage.config, newImage.config)
      if (drift.length > 0) {
        await exec(docker.tag(previousImage.id, settings.image.name), 'docker tag (restore)')
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
    await exec(docker.removeContainer(admin.name), 'docker rm -f (admin container)')
    adminCreated = false

    // 9. Replace production: the supervisor respawns it from the new image.
    await step('Replace production', async () => {
      await exec(docker.removeContainer(production.id), 'docker rm -f (production container)')
      try {
        report.containerId = await waitForServing(released, production.id)
      } catch (error) {
        await rollBack(error)
        throw error
      }
    })

    report.outcome = 'deployed'
    return report

    // A container of `image` started by the supervisor, then the health command.
    async function waitForServing(image: ImageInfo, oldContainerId: string): Promise<string> {
      const result = await remote.exec(
        docker.waitForContainer(image.id, settings.respawnTimeoutSec, admin.name),
        {
          label: 'wait for the new container',
          timeoutMs: settings.respawnTimeoutSec * 1000 + QUICK_MS
        }
      )
      if (result.code !== 0) {
        throw new DeployError(
          result.code === 124
            ? `No container of ${short(image.id)} started within ${settings.respawnTimeoutSec} s (\`respawn-timeout\`) after ${short(oldContainerId)} was removed. Is the supervisor that restarts the container running on the host?`
            : new RemoteCommandError('wait for the new container', result).message
        )
      }
      const [containerId, name] = result.stdout.trim().split(' ')
      runner.info(`${name} (${short(containerId)}) runs ${short(image.id)}`)
      if (settings.healthCommand) {
        const health = await remote.exec(
          docker.healthCheck(settings.healthCommand, settings.healthTimeoutSec),
          {
            label: 'health command',
            timeoutMs: settings.healthTimeoutSec * 1000 + QUICK_MS
          }
        )
        if (health.code !== 0) {
          throw new DeployError(
            `The health command did not pass within ${settings.healthTimeoutSec} s (\`health-timeout\`). Its last output:\n${(health.stdout + health.stderr).trim()}`
          )
        }
        runner.info(`Health command ${health.stdout.trim()}`)
      }
      return containerId
    }

    async function rollBack(cause: unknown): Promise<void> {
      if (!settings.rollback) {
        runner.error(
          `Rollback is off: production runs the failed release. To roll back by hand: docker tag ${rollbackTag(settings.image.repository)} ${settings.image.name} && docker rm -f <new container>`,
          'Rollback skipped'
        )
        return
      }
      runner.warning(
        `Rolling back to ${short(previousImage.id)}: ${message(cause)}`,
        'Rolling back'
      )
      await exec(docker.tag(previousImage.id, settings.image.name), 'docker tag (rollback)')
      // Remove every container of the failed release; the supervisor starts the previous one.
      const survey = docker.parseSurvey(await exec(docker.survey(settings.image.name), 'docker ps'))
      for (const failed of survey.containers.filter(c => c.imageId === released.id)) {
        await exec(docker.removeContainer(failed.id), 'docker rm -f (failed release)')
      }
      const restored = await waitForServing(previousImage, released.id).catch(error => {
        throw new DeployError(
          `ROLLBACK FAILED: ${message(error)}\nProduction may be down. ${settings.image.name} is back on ${short(previousImage.id)}; check the supervisor on the host.`
        )
      })
      report.rolledBack = true
      report.containerId = restored
      report.rollbackDetail = `${message(cause)}\nRestored ${short(previousImage.id)} (commit ${report.previousCommit}); container ${short(restored)} serves it.`
      report.outcome = 'rolled-back'
    }
  } catch (error) {
    // The report is the result either way: outputs and summary are written for a failure too.
    report.reason = message(error)
    report.failedStep = error instanceof DeployError ? error.step : report.steps.at(-1)?.name
    if (report.outcome !== 'rolled-back') report.outcome = 'failed'
    return report
  } finally {
    // 10. Always: remove the admin container and end the session.
    if (shell) {
      await cleanUp(shell, admin.name, adminCreated, runner)
      await shell.close()
    }
  }
}

async function cleanUp(
  shell: RemoteShell,
  adminName: string,
  created: boolean,
  runner: Runner
): Promise<void> {
  if (!created || !adminName) return
  try {
    await run(shell, docker.removeContainer(adminName), {
      label: 'docker rm -f (admin container)',
      timeoutMs: QUICK_MS
    })
  } catch (error) {
    runner.warning(
      `Could not remove the admin container ${adminName}: ${message(error)}. The next run removes it.`
    )
  }
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
  { kind: 'update' } | { kind: 'unchanged' } | { kind: 'refuse'; message: string }

/** Only a fast-forward to a commit on the branch is deployed; anything else is refused. */
export function decideUpdate(settings: Settings, relation: git.Relation): UpdateDecision {
  const where = `origin/${settings.branch}`
  if (!relation.target) {
    return {
      kind: 'refuse',
      message: `Commit ${settings.ref} was not found in ${where} after fetching. Push it first, or set \`ref\` (and \`branch\`) to a commit of the app's repository.`
    }
  }
  if (relation.target === relation.head) return { kind: 'unchanged' }
  if (!relation.onBranch) {
    return {
      kind: 'refuse',
      message: `Commit ${short(relation.target)} is not on ${where}. Only commits of \`branch\` are deployed; set \`branch\` to the branch that holds it.`
    }
  }
  if (relation.behind) {
    return {
      kind: 'refuse',
      message: `Commit ${short(relation.target)} is older than what production runs (${short(relation.head)}). Deploying it would roll production back; deploy a newer commit.`
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
  exec: (command: Command, label: string, timeoutMs?: number) => Promise<string>,
  runner: Runner
): Promise<void> {
  const inProduction = (command: Command) =>
    docker.exec(production.name, command, { workdir: settings.repoPath })
  const changed = (await exec(inProduction(git.changedFiles()), 'git status')).trim()
  if (changed)
    runner.warning(`The checkout in ${production.name} has uncommitted changes:\n${changed}`)
  const tip = (
    await exec(
      inProduction(git.remoteTip(settings.branch)),
      `git ls-remote origin ${settings.branch}`,
      SLOW_MS
    )
  ).split(/\s/)[0]
  const rollback = rollbackTag(settings.image.repository)
  report.plan = [
    `remove a stale ${adminName} if there is one, then docker run ${docker
      .runAdmin({
        name: adminName,
        imageId: short(image.id),
        hasEntrypoint: docker.hasEntrypoint(image.config),
        networkMode: production.networkMode
      })
      .slice(1)
      .join(' ')}`,
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

export function psTable(containers: ContainerInfo[]): string {
  if (containers.length === 0) return '  (no containers are running)'
  const rows = [
    ['CONTAINER ID', 'IMAGE', 'STATUS', 'NAMES'],
    ...containers.map(c => [short(c.id), c.imageName, c.status, c.name])
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows
    .map(
      r =>
        '  ' +
        r
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('   ')
          .trimEnd()
    )
    .join('\n')
}

export function short(id: string | undefined): string {
  if (!id) return ''
  return id.replace(/^sha256:/, '').slice(0, 12)
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}
