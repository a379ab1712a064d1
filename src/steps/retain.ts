import type { ImageInfo } from '../docker.js'
import { message } from '../format.js'
import type { Host } from '../host.js'
import { releaseTag, retainReleases, retentionCommand } from '../release/retention.js'
import type { Production } from '../target.js'
import type { Run } from './run.js'

/**
 * Step 14: the release tagged with its commit, the last `keep-releases` kept, older ones pruned —
 * on the host after the deploy lock is released, still holding it (without a lock, a dry run's
 * or a test's, here and now). The release is out and healthy by now: a failed clean-up is a
 * warning, never a failed job.
 */
export async function retain(
  run: Run,
  host: Host,
  production: Production,
  release: ImageInfo,
  commit: string
): Promise<void> {
  const { settings, runner, report } = run
  const options = {
    repository: production.target.repository,
    keep: settings.keepReleases,
    release: { id: release.id, commit },
    replaced: production.image.id
  }
  const lock = run.lock
  await run
    .step('Retain releases', async () => {
      if (!lock) {
        report.retention = await retainReleases(host, runner, options)
        return
      }
      // It decides nothing about this deploy, and its cost grows with the host's images: it runs
      // on the host after the job, still under the lock, so the next deploy never races a prune.
      lock.after(retentionCommand(options))
      const tag = `${options.repository}:${releaseTag(commit)}`
      report.retentionAfter = { keep: settings.keepReleases, tag }
      runner.info(
        `Tagging the release ${tag} and keeping ${settings.keepReleases} releases happen on the host once the lock is released: they do not delay the deploy.`
      )
    })
    .catch(error => runner.warning(`Could not prune old releases: ${message(error)}`, 'Retention'))
}
