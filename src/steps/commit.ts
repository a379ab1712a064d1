import { adminUser } from '../decide.js'
import * as docker from '../docker.js'
import type { ImageInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, SLOW_MS, type Host } from '../host.js'
import { flatten } from '../release/flatten.js'
import { chain } from '../shell.js'
import type { Production } from '../target.js'
import { removeAdmin } from './admin.js'
import type { Run } from './run.js'

/**
 * Step 10: commit the admin container as the release, with the image's own ENTRYPOINT and CMD
 * (a plain `docker commit` would take the admin container's keep-alive). On a plain host it is
 * known by its ID until the swap moves the tag the supervisor starts; a Swarm release gets its own
 * tag, to push. Past `max-layers` it is written flattened. The admin container is done with,
 * unless the pre-deploy command is to run in it next.
 */
export async function commitRelease(
  run: Run,
  host: Host,
  production: Production,
  commit: string
): Promise<ImageInfo> {
  const { settings, runner, report } = run
  const { admin, image: previous, container, target } = production
  const releaseName = target.releaseName(commit)
  run.progress({
    phase: 'releasing',
    adminContainer: admin,
    previousImageId: previous.id,
    service: target.service
  })
  // The repository too: retention prunes only its own repository's dangling releases, never
  // another image's release waiting for its swap on the same host.
  const message = `hermes-deploy ${commit} ${target.repository}`
  const flattened = previous.layers >= settings.maxLayers
  let release: ImageInfo
  const keep = target.keepPrevious(previous.id)
  const keepAdmin = Boolean(settings.preDeployCommand)
  if (flattened) {
    if (keep.length > 0) await host.run(chain(...keep), 'docker tag (rollback tag)')
    const flat = await flatten(host, admin, target.repository, releaseName, previous, message)
    release = docker.parseImage(
      JSON.parse(await host.run(docker.inspectImage(flat), 'docker image inspect'))
    )
  } else {
    // One round trip: commit, and read the result.
    const out = await host.run(
      chain(
        ...keep,
        docker.commitAndInspect(
          docker.commit({
            container: admin,
            image: releaseName,
            original: previous.config,
            adminUser: adminUser(container, previous),
            message
          })
        )
      ),
      'docker commit; docker image inspect',
      SLOW_MS
    )
    release = docker.parseImage(JSON.parse(out.split('\n').find(line => line.startsWith('{'))!))
  }
  if (!keepAdmin) await removeAdmin(run, host, admin)
  run.progress({
    phase: 'releasing',
    adminContainer: admin,
    previousImageId: previous.id,
    releasedImageId: release.id,
    service: target.service
  })
  const drift = docker.configDrift(previous.config, release.config)
  if (drift.length > 0) {
    await host
      .run(['docker', 'rmi', releaseName ?? release.id], 'docker rmi (release)')
      .catch(() => undefined)
    throw new DeployError(
      `The committed image changed the image config (${drift.join(', ')}); the release was removed and ` +
        (target.service
          ? 'the service is unchanged.'
          : `production is unchanged (${settings.image.name} still names ${short(previous.id)}).`)
    )
  }
  if (flattened) {
    report.flattened = { layersBefore: previous.layers, layersAfter: release.layers }
    runner.info(
      `Flattened: the image had ${previous.layers} layers (\`max-layers\` ${settings.maxLayers}); the release has ${release.layers}.`
    )
  }
  runner.info(
    releaseName
      ? `${releaseName} is ${short(release.id)}`
      : `The release is ${short(release.id)}; ${settings.image.name} names ${short(previous.id)} until the swap`
  )
  report.imageId = release.id
  return release
}
