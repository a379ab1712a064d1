import { findProduction } from './decide.js'
import type { DeployReport } from './deploy.js'
import * as docker from './docker.js'
import { message, short } from './format.js'
import { DeployError, Host, QUICK_MS, SLOW_MS } from './host.js'
import { recreationFor, type Recreate } from './recreate.js'
import { replaceProduction, RolledBack, serveOptions } from './replace.js'
import { addressLabel, type HostAddress, type Settings } from './inputs.js'
import { takeDeployLock, type LockHolder } from './lock.js'
import { writeHistory, type HistoryEntry } from './release/history.js'
import { retainReleases } from './release/retention.js'
import { imageLayers as TARGET_LAYERS, saveWithout as SAVE_WITHOUT } from './remote/scripts.js'
import type { Runner } from './runner.js'
import { run, shScript, type Command, type RemoteShell } from './shell.js'
import type { HostProgress } from './state.js'

/** Where the rollout left one host. */
export interface HostResult {
  host: string
  outcome: 'deployed' | 'unchanged' | 'rolled-back' | 'failed' | 'not reached'
  /** The commit it runs, when known: the release's once it has it. */
  commit?: string
  imageId?: string
  containerId?: string
  detail?: string
}

interface RolloutDeps {
  connectTo: (address: HostAddress) => Promise<RemoteShell>
  runner: Runner
  holder: LockHolder
  /** Called as a host passes each point the post step must know about. */
  progress?: (host: string, progress: HostProgress) => void
}

/**
 * After the first host built, released and checked the image, the others get the identical
 * image, one at a time (`max-parallel` at once): the image streams from the first host's
 * `docker save` into each host's `docker load` through the action's SSH connections — never
 * whole on the runner's disk or in its memory — then each host replaces production under its own
 * lock and health check. The first failure rolls that host back and stops the rollout; hosts not
 * yet reached are left untouched.
 */
export async function rollOut(
  settings: Settings,
  release: { imageId: string; commit?: string },
  source: RemoteShell,
  deps: RolloutDeps
): Promise<HostResult[]> {
  const { runner } = deps
  const others = settings.hosts.slice(1)
  const results: HostResult[] = []
  for (let i = 0; i < others.length; i += settings.maxParallel) {
    const batch = others.slice(i, i + settings.maxParallel)
    const outcomes = await Promise.all(
      batch.map(address =>
        runner.group(`Roll out to ${addressLabel(address)}`, () =>
          toHost(address, settings, release, source, deps).catch((error): HostResult => ({
            host: addressLabel(address),
            outcome: error instanceof HostRolledBack ? 'rolled-back' : 'failed',
            imageId: error instanceof HostRolledBack ? error.imageId : undefined,
            containerId: error instanceof HostRolledBack ? error.containerId : undefined,
            detail: message(error)
          }))
        )
      )
    )
    results.push(...outcomes)
    if (outcomes.some(r => r.outcome === 'failed' || r.outcome === 'rolled-back')) {
      results.push(
        ...others
          .slice(i + batch.length)
          .map(address => ({ host: addressLabel(address), outcome: 'not reached' as const }))
      )
      break
    }
  }
  return results
}

/** A host put back on the release it ran before. */
class HostRolledBack extends DeployError {
  constructor(
    text: string,
    readonly imageId: string,
    readonly containerId: string
  ) {
    super(text)
  }
}

async function toHost(
  address: HostAddress,
  settings: Settings,
  release: { imageId: string; commit?: string },
  source: RemoteShell,
  deps: RolloutDeps
): Promise<HostResult> {
  const { runner } = deps
  const hostName = addressLabel(address)
  const host = new Host(await deps.connectTo(address), runner)
  const started = performance.now()
  try {
    // The lock's holder reads what runs as soon as it holds the lock: one round trip for both.
    const lock = await takeDeployLock(
      host.shell,
      settings,
      deps.holder,
      runner,
      hostName,
      docker.survey(settings.image.name)
    )
    try {
      const survey = await host.survey(settings.image.name, lock.then)
      const production = findProduction(settings, survey.containers, survey.image)
      if (production.imageId === release.imageId) {
        runner.info(`${hostName} already runs ${short(release.imageId)}`)
        return {
          host: hostName,
          outcome: 'unchanged',
          commit: release.commit,
          imageId: release.imageId,
          containerId: production.id
        }
      }
      const present = await host.exec(docker.inspectImage(release.imageId), 'docker image inspect')
      if (present.code !== 0) await sendImage(source, host, release.imageId, hostName, runner)
      const previousConfig =
        survey.image?.id === production.imageId
          ? survey.image.config
          : docker.parseImage(
              JSON.parse(
                await host.run(docker.inspectImage(production.imageId), 'docker image inspect')
              )
            ).config
      const recreate = recreationFor(
        settings.respawn,
        production,
        settings.image,
        previousConfig,
        line => runner.info(`${hostName}: ${line}`)
      )
      return await replaceOn(host, hostName, settings, release, production, previousConfig, {
        ...deps,
        started,
        recreate
      })
    } finally {
      await lock.release().catch(() => undefined)
    }
  } finally {
    await host.shell.close()
  }
}

/**
 * Replace production on one more host with the release, as on the first; keep its releases; and
 * record the attempt in that host's history whatever happens.
 */
async function replaceOn(
  host: Host,
  hostName: string,
  settings: Settings,
  release: { imageId: string; commit?: string },
  production: docker.ContainerInfo,
  previousConfig: docker.ImageConfig | undefined,
  deps: RolloutDeps & { started: number; recreate?: Recreate }
): Promise<HostResult> {
  const { runner, started } = deps
  const attempt: { result: HistoryEntry['result']; reason?: string } = { result: 'failed' }
  try {
    let containerId: string
    try {
      // Until confirmed or rolled back, a cancelled run leaves this host to the post step.
      containerId = await replaceProduction(host, runner, {
        image: settings.image,
        production,
        previousImageId: production.imageId,
        previousConfig,
        releaseId: release.imageId,
        serve: serveOptions(settings, ''),
        rollback: settings.rollback,
        handover: settings.handover,
        recreate: deps.recreate,
        where: hostName,
        progress: phase =>
          deps.progress?.(hostName, {
            phase,
            previousImageId: production.imageId,
            releasedImageId: release.imageId
          })
      })
    } catch (error) {
      attempt.reason = message(error).split('\n')[0]
      if (!(error instanceof RolledBack)) throw error
      attempt.result = 'rolled-back'
      throw new HostRolledBack(
        `${error.cause}\nRolled back: ${short(error.containerId)} serves ${short(production.imageId)} again.`,
        production.imageId,
        error.containerId
      )
    }
    if (release.commit) {
      await retainReleases(host, runner, {
        repository: settings.image.repository,
        keep: settings.keepReleases,
        release: { id: release.imageId, commit: release.commit },
        replaced: production.imageId
      }).catch(error =>
        runner.warning(`Could not prune old releases on ${hostName}: ${message(error)}`)
      )
    }
    attempt.result = 'deployed'
    return {
      host: hostName,
      outcome: 'deployed',
      commit: release.commit,
      imageId: release.imageId,
      containerId
    }
  } finally {
    await writeHistory(
      host,
      settings,
      {
        time: new Date().toISOString(),
        action: 'deploy',
        result: attempt.result,
        by: deps.holder.actor,
        run: deps.holder.run,
        toCommit: release.commit,
        fromImage: production.imageId,
        toImage: release.imageId,
        durationSec: Math.round((performance.now() - started) / 100) / 10,
        ...(attempt.reason ? { reason: attempt.reason } : {})
      },
      runner
    )
  }
}

/**
 * Send the release to a host, leaving out the layers the host already has: a release is its
 * predecessor plus a layer or two, and the host runs the predecessor. `docker load` skips a layer
 * whose chain it has without reading its file, so those files are cut from the archive on the
 * first host (GNU tar) before it is streamed. Anything unusual (no GNU tar, no room for the
 * archive, an engine that wants every file) falls back to streaming the whole image.
 */
async function sendImage(
  source: RemoteShell,
  target: Host,
  imageId: string,
  hostName: string,
  runner: Runner
): Promise<void> {
  const skip = await layersToSkip(source, target, imageId).catch(error => {
    runner.debug(`Could not work out which layers ${hostName} has: ${message(error)}`)
    return { layers: 0, of: 0 }
  })
  if (skip.layers === 0) return copyImage(source, target.shell, imageId, hostName, runner)
  try {
    await copyImage(source, target.shell, imageId, hostName, runner, skip)
  } catch (error) {
    runner.warning(
      `Sending only the layers ${hostName} lacks failed (${message(error).split('\n')[0]}); sending the whole image.`
    )
    await copyImage(source, target.shell, imageId, hostName, runner)
  }
}

/** How many of the release's layers, from the bottom, the target has as one chain in some image. */
async function layersToSkip(
  source: RemoteShell,
  target: Host,
  imageId: string
): Promise<{ layers: number; of: number }> {
  const releaseLayers = JSON.parse(
    await run(
      source,
      ['docker', 'image', 'inspect', '--format', '{{json .RootFS.Layers}}', imageId],
      { label: 'docker image inspect (layers)', timeoutMs: QUICK_MS }
    )
  ) as string[]
  const chains = (await target.run(['sh', '-c', TARGET_LAYERS], 'docker image inspect (layers)'))
    .split('\n')
    .filter(line => line.startsWith('['))
    .map(line => JSON.parse(line) as string[])
  return { layers: sharedPrefix(releaseLayers, chains), of: releaseLayers.length }
}

/** How many of `layers`, from the bottom, some image of `chains` has in the same order. */
function sharedPrefix(layers: string[], chains: string[][]): number {
  let best = 0
  for (const chain of chains) {
    let n = 0
    while (n < layers.length && n < chain.length && chain[n] === layers[n]) n++
    best = Math.max(best, n)
  }
  return best
}

// The archive is saved once to the first host's disk: its manifest (the layers' file names, in
// the image's order) comes last in it, and a seekable file lets tar read it without a second
// `docker save`. Only the stream from `tar --delete` goes to stdout.
/** `docker save` of `imageId` without its bottom `layers` (of `of`): the target has them. */
export function saveWithout(imageId: string, layers: number, of: number): Command {
  return shScript(SAVE_WITHOUT, imageId, String(layers), String(of))
}

/** Stream `docker save` on the first host into `docker load` on another, with backpressure. */
async function copyImage(
  from: RemoteShell,
  to: RemoteShell,
  imageId: string,
  hostName: string,
  runner: Runner,
  /** Layers, from the bottom, the target has (left out of the stream), of how many. */
  skip: { layers: number; of: number } = { layers: 0, of: 0 }
): Promise<void> {
  const started = performance.now()
  const save = await from.channel(
    skip.layers > 0 ? saveWithout(imageId, skip.layers, skip.of) : ['docker', 'save', imageId],
    skip.layers > 0 ? 'docker save; tar --delete' : 'docker save'
  )
  const load = await to.channel(['docker', 'load'], 'docker load')
  let bytes = 0
  let errors = ''
  save.stream.on('data', (chunk: Buffer) => (bytes += chunk.length))
  save.stderr.on('data', (chunk: Buffer) => (errors += chunk))
  load.stderr.on('data', (chunk: Buffer) => (errors += chunk))
  let loaded = ''
  load.stream.on('data', (chunk: Buffer) => (loaded += chunk))
  save.stream.pipe(load.stream)
  let timer: NodeJS.Timeout | undefined
  const [saved, imported] = await Promise.race([
    Promise.all([save.exit, load.exit]),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DeployError(
              `Copying the image to ${hostName} did not finish within ${SLOW_MS / 60_000} min.`
            )
          ),
        SLOW_MS
      )
    })
  ]).finally(() => clearTimeout(timer))
  if (saved !== 0 || imported !== 0) {
    throw new DeployError(
      `Copying ${short(imageId)} to ${hostName} failed (docker save exited ${saved}, docker load exited ${imported}): ${errors.trim()}`
    )
  }
  const seconds = (performance.now() - started) / 1000
  const kept = skip.layers > 0 ? `; ${skip.layers} layers it had were not sent` : ''
  runner.info(
    `Copied ${short(imageId)} to ${hostName}: ${(bytes / 1e6).toFixed(bytes < 1e6 ? 3 : 1)} MB in ${seconds.toFixed(1)} s (${loaded.trim()}${kept})`
  )
}

/** The rollout's result folded into the report: the deploy succeeded only if every host did. */
export function foldRollout(report: DeployReport, results: HostResult[]): void {
  report.hosts = [
    {
      host: report.host,
      outcome: report.outcome === 'deployed' ? 'deployed' : 'unchanged',
      commit: report.commit,
      imageId: report.imageId,
      containerId: report.containerId
    },
    ...results
  ]
  const failed = results.find(r => r.outcome === 'failed' || r.outcome === 'rolled-back')
  if (!failed) return
  report.outcome = 'failed'
  report.failedStep = `Roll out to ${failed.host}`
  const untouched = results.filter(r => r.outcome === 'not reached').map(r => r.host)
  report.reason =
    `The rollout stopped at ${failed.host}: ${failed.detail}` +
    (untouched.length ? `\nNot reached, left as they were: ${untouched.join(', ')}.` : '') +
    `\n${report.host} and the hosts before ${failed.host} run the new release.`
}
