import * as docker from '../docker.js'
import type { ContainerInfo, HostSurvey, ImageInfo } from '../docker.js'
import { findProduction } from '../decide.js'
import { message, short } from '../format.js'
import * as git from '../git.js'
import { DeployError, type Host } from '../host.js'
import type { Settings } from '../inputs.js'
import { lockName } from '../lock.js'
import type { Command, ExecResult } from '../shell.js'
import { targetFor, type Target } from '../target.js'
import type { Run } from './run.js'

/** What `docker ps` showed, with production picked out of it and where its release goes. */
interface Found {
  container: ContainerInfo
  /** The image `image` names on the host (absent on a Swarm node, whose tasks run by digest). */
  tagged?: ImageInfo
  containers: HostSurvey['containers']
  target: Target
  /** The commit at repo-path in production, read with the survey (absent: read it apart). */
  head?: { code: number; output: string }
}

/**
 * What step 3 reads: `docker ps` and the inspects, the host's deploy history, and when it is
 * needed before the admin container exists (`commitBeforeAdmin`), the commit in each container
 * that may be production. The deploy lock runs it as soon as it is held, in its own round trip
 * (step 2).
 */
export function surveyCommand(settings: Settings): Command {
  return docker.survey(settings.image.name, {
    alias: settings.image.tag === 'latest' ? settings.image.repository : undefined,
    repoPath: commitBeforeAdmin(settings) ? settings.repoPath : undefined,
    container: settings.container,
    history: lockName(settings.image.repository)
  })
}

/**
 * Step 3: see what runs (the runbook's `docker ps`) and pick the production container, from what
 * the lock read (`surveyed`) or, without one (a dry run), from a survey of its own.
 */
export async function findProductionContainer(
  run: Run,
  host: Host,
  surveyed?: ExecResult
): Promise<Found> {
  const { settings, runner } = run
  const survey = await host.survey(surveyCommand(settings), surveyed)
  run.history = survey.history
  const container = findProduction(settings, survey.containers, survey.image)
  const target = targetFor(run, container)
  const { service } = target
  runner.info(
    `Production: container ${container.name} (${short(container.id)}) running ${short(container.imageId)}` +
      (service ? `, a task of the Swarm service ${service}` : '')
  )
  if (service && settings.hosts.length > 1) {
    throw new DeployError(
      `Production is the Swarm service ${service}, and Swarm rolls a release out to its nodes: list one manager node in \`host\`, not ${settings.hosts.length} hosts.`
    )
  }
  if (service && settings.handover) {
    throw new DeployError(
      `Production is the Swarm service ${service}: \`handover\` is for a container that a supervisor or its restart policy brings back. Set \`update-order: start-first\` for Swarm instead, and \`handover: none\`.`
    )
  }
  // A Swarm node need not have the image under its own name: tasks run it by digest.
  if (!survey.image && !service) {
    throw new DeployError(
      `Image ${settings.image.name} is not on the host, yet ${container.name} runs ${container.imageName}. ` +
        'Set `image` to the image the supervisor starts (see `docker ps` on the host).'
    )
  }
  run.report.productionContainer = container.name
  run.report.previousImageId = container.imageId
  if (service) run.report.swarm = { service }
  return {
    container,
    tagged: survey.image,
    containers: survey.containers,
    target,
    head: survey.heads.get(container.id)
  }
}

/**
 * Whether production's commit is read in production itself, before the admin container exists:
 * when `paths` may rule the change out before anything is made, for a dry run's plan and for a
 * rollback's record. Otherwise the check reads it in the admin container (step 7), a copy of
 * production's image, and the survey spares the `docker exec` (the slowest docker command).
 */
export function commitBeforeAdmin(settings: Settings): boolean {
  return settings.paths.length > 0 || settings.dryRun || settings.rollbackTo !== undefined
}

/**
 * Step 4: read what production runs: its image, and (see `commitBeforeAdmin`) the commit checked
 * out at repo-path.
 */
export async function readProduction(run: Run, host: Host, found: Found): Promise<ImageInfo> {
  const { settings, runner, report } = run
  const { container, tagged, head } = found
  if (head) report.previousCommit = commitOf(head, container.name, settings.repoPath)
  else if (commitBeforeAdmin(settings)) {
    report.previousCommit = await readCommit(host, container.name, settings.repoPath)
  }
  if (tagged && tagged.id !== container.imageId) {
    runner.warning(
      `${container.name} runs ${short(container.imageId)}, not the image ${settings.image.name} now names (${short(tagged.id)}): ` +
        'the release is built from what production runs.'
    )
  }
  const image =
    tagged?.id === container.imageId
      ? tagged
      : docker.parseImage(
          JSON.parse(await host.run(docker.inspectImage(container.imageId), 'docker image inspect'))
        )
  runner.info(
    `Image ${short(image.id)}, ${image.layers} layers, ` +
      (report.previousCommit
        ? `commit ${report.previousCommit}`
        : `its commit read in the admin container made from it`)
  )
  found.target.prepare(container, image)
  return image
}

/** The commit checked out at repo-path in a container. */
export async function readCommit(host: Host, container: string, repoPath: string): Promise<string> {
  try {
    return (
      await host.run(
        docker.exec(container, git.currentCommit(), { workdir: repoPath }),
        'git rev-parse HEAD'
      )
    ).trim()
  } catch (error) {
    throw unreadable(container, repoPath, message(error))
  }
}

/** The commit the survey read in production, or why it could not. */
function commitOf(
  head: { code: number; output: string },
  container: string,
  repoPath: string
): string {
  // Its output is stdout and stderr together: the commit is the last line.
  const commit = head.output.split('\n').at(-1)!.trim()
  if (head.code === 0 && /^[0-9a-f]{40,64}$/.test(commit)) return commit
  throw unreadable(
    container,
    repoPath,
    `git rev-parse HEAD exited with code ${head.code}:\n${head.output}`
  )
}

/** Why the checkout at repo-path cannot be read in a container, and what to check. */
export function unreadable(container: string, repoPath: string, why: string): DeployError {
  return new DeployError(
    `Could not read the commit at ${repoPath} in ${container}: ${why}\n` +
      'Check `repo-path`: it must be the git checkout of the app inside the container.'
  )
}
