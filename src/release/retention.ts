import { SLOW_MS, type Host } from '../host.js'
import type { Runner } from '../runner.js'
import { parseKeyValues } from '../key-value.js'
import { retain as RETAIN } from '../remote/scripts.js'
import { shScript, type Command } from '../shell.js'

/** Releases are tagged `<repository>:<first 12 hex digits of the commit>`. */
export function releaseTag(commit: string): string {
  return commit.slice(0, 12)
}

/**
 * Tag the release `<repository>:<tag>`, keep the newest `keep` releases of the repository, and
 * remove older release tags (never one on a protected image: the running one, the rollback
 * target) and the dangling images of ours they leave. Prints what it did and the disk images
 * use before and after. One round trip.
 */
export function retain(
  repository: string,
  keep: number,
  release: { id: string; tag: string },
  protectedIds: string[]
): Command {
  return shScript(RETAIN, repository, String(keep), release.id, release.tag, ...protectedIds)
}

export interface Retention {
  kept: string[]
  removed: string[]
  protected: string[]
  pruned: number
  diskBefore: string
  diskAfter: string
}

function parseRetention(output: string): Retention {
  const lines = parseKeyValues(output)
  return {
    kept: lines.all('kept'),
    removed: lines.all('removed'),
    protected: lines.all('protected'),
    pruned: lines.all('pruned').length,
    diskBefore: lines.get('before'),
    diskAfter: lines.get('after')
  }
}

/**
 * Keep the release (tagged with its commit) and the last few before it; prune the rest, never
 * the release or the image it replaced. Says what it did; returns it.
 */
/** The command of `retainReleases`, to run later (after the lock is released). */
export function retentionCommand(options: {
  repository: string
  keep: number
  release: { id: string; commit: string }
  replaced: string
}): Command {
  const { release } = options
  return retain(
    options.repository,
    options.keep,
    { id: release.id, tag: releaseTag(release.commit) },
    [release.id, options.replaced]
  )
}

export async function retainReleases(
  host: Host,
  runner: Runner,
  options: {
    repository: string
    keep: number
    release: { id: string; commit: string }
    replaced: string
  }
): Promise<Retention> {
  const retention = parseRetention(
    await host.run(retentionCommand(options), 'docker tag (release); retention', SLOW_MS)
  )
  const { kept, removed, pruned, diskBefore, diskAfter } = retention
  runner.info(
    `Kept ${kept.length} releases; removed ${removed.length} old release tags and ${pruned} unused images. Images use ${diskAfter} (was ${diskBefore}).`
  )
  return retention
}
