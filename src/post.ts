import * as docker from './docker.js'
import { message, short } from './format.js'
import { DeployError, Host, restorePrevious, serveOptions } from './host.js'
import type { Settings } from './inputs.js'
import { takeDeployLock, type LockHolder } from './lock.js'
import type { Runner } from './runner.js'
import type { RemoteShell } from './shell.js'
import type { Progress } from './state.js'
import { swarmStatus } from './swarm.js'

/**
 * The post step: when the main step was cancelled or killed before it finished, connect again and
 * put the host right — remove the admin container, and if a release was on its way out but never
 * confirmed healthy, complete the rollback so production serves the previous image.
 * Throws when production could not be put right.
 */
export async function recover(
  settings: Settings,
  progress: Progress | undefined,
  deps: { connect: () => Promise<RemoteShell>; runner: Runner; holder: LockHolder }
): Promise<void> {
  const { runner } = deps
  if (!progress || progress.phase === 'done') {
    runner.info('The deploy step finished; nothing to clean up.')
    return
  }
  runner.warning(
    `The deploy step did not finish (it stopped in phase "${progress.phase}"): putting the host right.`,
    'Recovering'
  )
  const host = new Host(await deps.connect(), runner)
  const lock = await takeDeployLock(host.shell, settings, deps.holder, runner)
  try {
    const survey = await host.survey(settings.image.name)
    const admin = survey.containers.find(c => c.name === progress.adminContainer)
    if (admin) {
      await host.run(docker.removeContainer(admin.id), 'docker rm -f (admin container)')
      runner.info(`Removed the admin container ${admin.name}`)
    }
    if (progress.phase !== 'releasing' || !progress.previousImageId) return
    if (progress.service) {
      // The update is Swarm's, with its own failure action: report where it is, change nothing.
      const status = await host
        .run(swarmStatus(progress.service), 'docker service inspect')
        .catch(error => `unknown (${message(error)})`)
      runner.warning(
        `Production is the Swarm service ${progress.service}; Swarm finishes or rolls back its update by itself. Its update status: ${status.trim() || 'none'}. ` +
          `Check \`docker service ps ${progress.service}\` on the host.`,
        'Swarm update'
      )
      return
    }

    const tagged = survey.image?.id
    const failed =
      progress.releasedImageId ?? (tagged !== progress.previousImageId ? tagged : undefined)
    const releaseRuns =
      failed !== undefined && survey.containers.some(c => c.running && c.imageId === failed)
    if (tagged === progress.previousImageId && !releaseRuns) {
      runner.info(
        `${settings.image.name} still names ${short(progress.previousImageId)} and no container runs the release: production is as it was.`
      )
      return
    }
    runner.warning(
      `The release ${short(failed)} was committed but never confirmed healthy: rolling back to ${short(progress.previousImageId)}.`,
      'Rolling back'
    )
    const serving = await restorePrevious(host, runner, {
      image: settings.image.name,
      repository: settings.image.repository,
      previousImageId: progress.previousImageId,
      failedImageId: failed ?? '',
      serve: serveOptions(settings, progress.adminContainer ?? '', 0)
    }).catch(error => {
      throw new DeployError(
        `ROLLBACK FAILED after the cancelled deploy: ${message(error)}\nProduction may be down: ${settings.image.name} is back on ${short(progress.previousImageId)}; check the supervisor on the host.`
      )
    })
    runner.info(`Rolled back: ${short(serving)} serves ${short(progress.previousImageId)}`)
  } finally {
    await lock.release().catch(() => undefined)
    await host.shell.close()
  }
}
