import * as docker from '../docker.js'
import type { ImageInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, type Host } from '../host.js'

/** The release for `rollback-to` (`previous`, or a retained commit) among `repository`'s tags. */
export async function findRelease(
  host: Host,
  wanted: string,
  repository: string,
  current: ImageInfo
): Promise<{ image: ImageInfo; tag: string }> {
  const tags = docker.parseTags(await host.run(docker.listTags(repository), 'docker image ls'))
  const found =
    wanted === 'previous'
      ? tags.find(t => t.tag === 'hermes-previous')
      : tags.find(
          t =>
            /^[0-9a-f]{12}$/.test(t.tag) && (t.tag.startsWith(wanted) || wanted.startsWith(t.tag))
        )
  const retained = tags
    .filter(t => /^[0-9a-f]{12}$/.test(t.tag))
    .map(t => t.tag)
    .join(', ')
  if (!found) {
    throw new DeployError(
      `No retained release matches \`rollback-to: ${wanted}\`. Retained: ${retained || 'none'}${
        tags.some(t => t.tag === 'hermes-previous') ? ', previous' : ''
      }.`
    )
  }
  if (found.id === current.id)
    throw new DeployError(
      `Production already runs ${wanted} (${short(found.id)}); nothing to roll back.`
    )
  const image = docker.parseImage(
    JSON.parse(await host.run(docker.inspectImage(found.id), 'docker image inspect'))
  )
  return { image, tag: found.tag }
}
