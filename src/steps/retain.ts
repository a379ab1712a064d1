import type { ImageInfo } from '../docker.js'
import { message } from '../format.js'
import type { Host } from '../host.js'
import { retainReleases } from '../release/retention.js'
import type { Production } from '../target.js'
import type { Run } from './run.js'

/**
 * Step 14: the release tagged with its commit, the last `keep-releases` kept, older ones pruned.
 * The release is out and healthy by now: a failed clean-up is a warning, never a failed job.
 */
export async function retain(
  run: Run,
  host: Host,
  production: Production,
  release: ImageInfo,
  commit: string
): Promise<void> {
  const { settings, runner, report } = run
  await run
    .step('Retain releases', async () => {
      report.retention = await retainReleases(host, runner, {
        repository: production.target.repository,
        keep: settings.keepReleases,
        release: { id: release.id, commit },
        replaced: production.image.id
      })
    })
    .catch(error => runner.warning(`Could not prune old releases: ${message(error)}`, 'Retention'))
}
