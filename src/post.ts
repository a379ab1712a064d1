import * as docker from './docker.js'
import { message, short } from './format.js'
import { giveTrafficBack } from './handover.js'
import { keptName } from './recreate.js'
import { DeployError, Host } from './host.js'
import { rollBack, serveOptions } from './replace.js'
import { addressLabel, type HostAddress, type Settings } from './inputs.js'
import { takeDeployLock, type LockHolder } from './lock.js'
import type { Runner } from './runner.js'
import type { RemoteShell } from './shell.js'
import type { Progress } from './state.js'
import { swarmStatus } from './swarm.js'

const KEPT_SUFFIX = keptName('')

interface RecoverDeps {
  /** The first host: where the release was built. */
  connect: () => Promise<RemoteShell>
  /** Any host of a rollout. */
  connectTo?: (address: HostAddress) => Promise<RemoteShell>
  runner: Runner
  holder: LockHolder
}

/** What is known of one host's unfinished release. */
interface Unconfirmed {
  previousImageId: string
  releasedImageId?: string
  adminContainer?: string
  service?: string
}

/**
 * The post step: when the main step was cancelled or killed before it finished, connect again and
 * put each host right — remove the admin container, and where a release was on its way out but
 * never confirmed healthy, complete the rollback so production serves the previous image. With
 * several hosts, every host the rollout had started to replace is checked.
 * Throws when production could not be put right somewhere.
 */
export async function recover(
  settings: Settings,
  progress: Progress | undefined,
  deps: RecoverDeps
): Promise<void> {
  const { runner } = deps
  const others = Object.entries(progress?.others ?? {}).filter(([, p]) => p.phase === 'releasing')
  if ((!progress || progress.phase === 'done') && others.length === 0) {
    runner.info('The deploy step finished; nothing to clean up.')
    return
  }
  const failures: string[] = []
  if (progress && progress.phase !== 'done') {
    runner.warning(
      `The deploy step did not finish (it stopped in phase "${progress.phase}"): putting the host right.`,
      'Recovering'
    )
    await recoverHost(settings, deps.connect, runner, deps.holder, progress).catch(error =>
      failures.push(message(error))
    )
  }
  for (const [label, other] of others) {
    const address = settings.hosts.find(h => addressLabel(h) === label)
    if (!address || !deps.connectTo) continue
    runner.warning(
      `The rollout stopped while replacing production on ${label}: putting it right.`,
      'Recovering'
    )
    await recoverHost(settings, () => deps.connectTo!(address), runner, deps.holder, other).catch(
      error => failures.push(`${label}: ${message(error)}`)
    )
  }
  if (failures.length > 0) throw new DeployError(failures.join('\n'))
}

async function recoverHost(
  settings: Settings,
  connect: () => Promise<RemoteShell>,
  runner: Runner,
  holder: LockHolder,
  progress: Progress
): Promise<void> {
  const host = new Host(await connect(), runner)
  const lock = await takeDeployLock(
    host.shell,
    settings,
    holder,
    runner,
    '',
    docker.survey(settings.image.name)
  )
  try {
    const survey = await host.survey(settings.image.name, lock.then)
    const admin = survey.containers.find(c => c.name === progress.adminContainer)
    // Ours runs the keep-alive; one a person made by the runbook's script is theirs to remove.
    if (admin && docker.isOurAdmin(admin)) {
      await host.run(docker.removeContainer(admin.id), 'docker rm -f (admin container)')
      runner.info(`Removed the admin container ${admin.name}`)
    } else if (admin) {
      runner.warning(
        `Left ${admin.name} alone: it is not an admin container this action made (it runs ${admin.process.join(' ')}). Remove it by hand when it is no longer needed.`,
        'Admin container'
      )
    }
    try {
      if (progress.phase !== 'releasing' || !progress.previousImageId) return
      await rollBackUnconfirmed(host, settings, runner, survey, {
        previousImageId: progress.previousImageId,
        releasedImageId: progress.releasedImageId,
        adminContainer: progress.adminContainer,
        service: progress.service
      })
    } finally {
      // A handover the run did not finish: production takes the traffic back from its stand-in.
      if (settings.handover) {
        // Only this image's: another app's stand-in on the host may be serving its own deploy.
        const ours = new Set(
          survey.containers
            .filter(
              c =>
                c.name === settings.container ||
                [settings.image.name, settings.image.repository].includes(c.imageName) ||
                (survey.image && c.imageId === survey.image.id)
            )
            .map(c => c.name)
        )
        // Production may be gone at this moment (killed in the swap): a stand-in of this run's
        // release, or of the image it replaced, is this run's too.
        const images = [progress.releasedImageId, progress.previousImageId]
        const standins = survey.containers.filter(
          c =>
            c.labels[docker.STANDIN_LABEL] &&
            (ours.has(c.labels[docker.STANDIN_LABEL]) || images.includes(c.imageId))
        )
        for (const standin of standins) {
          await giveTrafficBack(host, runner, settings.handover, standin.name, settings)
        }
      }
    }
  } finally {
    await lock.release().catch(() => undefined)
    await host.shell.close()
  }
}

/** Roll back a release that may be out but was never confirmed; leave a host that never got it. */
async function rollBackUnconfirmed(
  host: Host,
  settings: Settings,
  runner: Runner,
  survey: docker.HostSurvey,
  release: Unconfirmed
): Promise<void> {
  if (release.service) {
    // The update is Swarm's, with its own failure action: report where it is, change nothing.
    const status = await host
      .run(swarmStatus(release.service), 'docker service inspect')
      .catch(error => `unknown (${message(error)})`)
    runner.warning(
      `Production is the Swarm service ${release.service}; Swarm finishes or rolls back its update by itself. Its update status: ${status.trim() || 'none'}. ` +
        `Check \`docker service ps ${release.service}\` on the host.`,
      'Swarm update'
    )
    return
  }
  // Only what is provably this run's is rolled back: the tag names its release (it moves only at
  // the swap), or its release still runs. Anything else is another deploy's, made since this run
  // stopped (it waited on the lock): the host is left as that deploy left it.
  const tagged = survey.image?.id
  const failed = release.releasedImageId
  const releaseRuns =
    failed !== undefined &&
    survey.containers.some(
      c => c.running && c.imageId === failed && !c.labels[docker.STANDIN_LABEL]
    )
  if (tagged === release.previousImageId && !releaseRuns) {
    runner.info(
      `${settings.image.name} still names ${short(release.previousImageId)} and no container runs the release: production is as it was.`
    )
    return
  }
  if (failed === undefined || (tagged !== failed && tagged !== release.previousImageId)) {
    runner.warning(
      `${settings.image.name} names ${short(tagged)}, neither the image this run found in production (${short(release.previousImageId)}) nor its release${failed ? ` (${short(failed)})` : ''}: ` +
        'another deploy has changed the host since this run stopped. Leaving production as that deploy left it.',
      'Not rolled back'
    )
    return
  }
  runner.warning(
    `The release ${short(failed)} was committed but never confirmed healthy: rolling back to ${short(release.previousImageId)}.`,
    'Rolling back'
  )
  // A restart-policy host keeps its stopped production aside until the release is confirmed.
  const kept = survey.containers.find(
    c => !c.running && c.imageId === release.previousImageId && c.name.endsWith(KEPT_SUFFIX)
  )
  const serving = await rollBack(host, runner, {
    image: settings.image,
    previousImageId: release.previousImageId,
    failedImageId: failed,
    kept: kept && { name: kept.name, as: kept.name.slice(0, -KEPT_SUFFIX.length) },
    serve: serveOptions(settings, release.adminContainer ?? '', 0),
    when: ' after the cancelled deploy'
  })
  runner.info(`Rolled back: ${short(serving)} serves ${short(release.previousImageId)}`)
}
