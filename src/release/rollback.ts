import * as docker from '../docker.js'
import type { ImageInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, type Host } from '../host.js'
import type { Settings } from '../inputs.js'

/** The release for `rollback-to`: `previous`, or a retained commit's tag. */
export async function findRelease(
  host: Host,
  settings: Settings,
  current: ImageInfo
): Promise<ImageInfo> {
  const tags = docker.parseTags(
    await host.run(docker.listTags(settings.image.repository), 'docker image ls')
  )
  const wanted = settings.rollbackTo!
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
  return docker.parseImage(
    JSON.parse(await host.run(docker.inspectImage(found.id), 'docker image inspect'))
  )
}
