import * as docker from '../docker.js'
import type { ContainerInfo, ImageInfo } from '../docker.js'
import { short } from '../format.js'
import { DeployError, QUICK_MS, type Host } from '../host.js'
import type { Settings } from '../inputs.js'
import type { Runner } from '../runner.js'
import { diagnose, formatDiagnosis, watchCanary } from './watch.js'

/** Start the release next to production, on no network, and watch it before the swap. */
export async function canary(
  host: Host,
  runner: Runner,
  settings: Settings,
  production: ContainerInfo,
  previous: ImageInfo,
  release: ImageInfo
): Promise<void> {
  const name = `${production.name}-canary`
  await host.run(docker.removeContainer(name), 'docker rm -f (stale canary)').catch(() => undefined)
  try {
    await host.run(
      docker.runLike(production, release.id, previous.config, { name }),
      'docker run (canary)',
      QUICK_MS,
      production.env.filter(e => !e.includes('\n')).join('\n') + '\n'
    )
    const watched = await host.exec(
      watchCanary(
        name,
        settings.canarySeconds,
        settings.canaryCommand ?? '',
        settings.canaryTimeoutSec
      ),
      'canary',
      (settings.canarySeconds + settings.canaryTimeoutSec) * 1000 + QUICK_MS
    )
    if (watched.code !== 0) {
      const why = formatDiagnosis(
        watched.stdout +
          (await host.run(diagnose(name), 'docker inspect and logs (canary)').catch(() => ''))
      )
      throw new DeployError(
        `The canary of ${short(release.id)} failed; production is untouched (the tag moves only at the swap, so ${settings.image.name} still names ${short(previous.id)}).\n${why}`
      )
    }
    runner.info(
      `The release ran for ${settings.canarySeconds} s on no network${settings.canaryCommand ? ` and ${watched.stdout.trim()}` : ''}`
    )
  } finally {
    await host.run(docker.removeContainer(name), 'docker rm -f (canary)').catch(() => undefined)
  }
}
