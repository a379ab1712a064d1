import { STANDIN_LABEL, type ContainerInfo, type ImageInfo } from './docker.js'
import { psTable, short } from './format.js'
import type { Relation } from './git.js'
import { DeployError } from './host.js'
import type { Settings } from './inputs.js'
import { repositoryOf, SERVICE_LABEL } from './swarm.js'

// The decisions the procedure makes from what it read on the host, apart so they are tested
// without one.

/**
 * Pick the production container: a task of the Swarm `service`, the one named by `container` (or
 * a task of the service it names), or the one running `image`.
 */
export function findProduction(
  settings: Settings,
  containers: ContainerInfo[],
  image?: ImageInfo
): ContainerInfo {
  // A stand-in serves beside production during a handover; it is never production itself.
  const running = containers.filter(c => c.running && !c.labels[STANDIN_LABEL])
  const taskOf = (service: string) => running.find(c => c.labels[SERVICE_LABEL] === service)
  if (settings.service) {
    const task = taskOf(settings.service)
    if (task) return task
    throw new DeployError(
      `No task of the Swarm service ${settings.service} (\`service\`) runs on this host, and the release is built from a running task. ` +
        `Set \`host\` to a manager node that runs one. Running now:\n${psTable(running)}`
    )
  }
  if (settings.container) {
    const named =
      running.find(c => c.name === settings.container || c.id.startsWith(settings.container!)) ??
      taskOf(settings.container)
    if (named) return named
    throw new DeployError(
      `No running container is named ${settings.container} (\`container\`). Running now:\n${psTable(running)}`
    )
  }
  const names = new Set([
    settings.image.name,
    settings.image.tag === 'latest' ? settings.image.repository : ''
  ])
  // A Swarm task runs the image from a registry, by digest: `<registry>/<image>:<tag>@sha256:…`.
  const swarmTask = (c: ContainerInfo) => {
    const repository = repositoryOf(c.imageName)
    return (
      Boolean(c.labels[SERVICE_LABEL]) &&
      (repository === settings.image.repository ||
        repository.endsWith(`/${settings.image.repository}`))
    )
  }
  let candidates = running.filter(
    c => names.has(c.imageName) || (image && c.imageId === image.id) || swarmTask(c)
  )
  // Replicas of one Swarm service on this node are one production.
  const service = candidates[0]?.labels[SERVICE_LABEL]
  if (service && candidates.every(c => c.labels[SERVICE_LABEL] === service)) return candidates[0]
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

type UpdateDecision =
  { kind: 'update' } | { kind: 'unchanged'; message: string } | { kind: 'refuse'; message: string }

/** Only a fast-forward to a commit on the branch is deployed. */
export function decideUpdate(settings: Settings, relation: Relation): UpdateDecision {
  const where = `origin/${settings.branch}`
  if (!relation.target) {
    return {
      kind: 'refuse',
      message: `Commit ${settings.ref} was not found in ${where} after fetching. Push it first, or set \`ref\` (and \`branch\`) to a commit of the app's repository.`
    }
  }
  if (relation.target === relation.head) {
    // `force`: build and release the same commit again (a changed build, a base image to refresh).
    if (settings.force) return { kind: 'update' }
    return {
      kind: 'unchanged',
      message: `Production already runs ${relation.target}; nothing to deploy. Set \`force: true\` to build and release it again.`
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
      message: `Production runs ${short(relation.head)}, which already contains ${short(relation.target)}: nothing to deploy. To go back to an older release, use \`rollback-to\`.`
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

/** Variables production has that its image does not define: the supervisor's own settings. */
export function extraEnv(containerEnv: string[], imageEnv: string[]): string[] {
  const fromImage = new Set(imageEnv)
  // An env-file cannot carry a newline inside a value.
  return containerEnv.filter(entry => !fromImage.has(entry) && !entry.includes('\n'))
}

/** The user production runs as, when it differs from the image's own. */
export function adminUser(production: ContainerInfo, image: ImageInfo): string | undefined {
  return production.user !== (image.config.User ?? '') ? production.user : undefined
}
