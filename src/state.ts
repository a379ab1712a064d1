import { State } from './action-io.js'
import { getState, saveState } from './workflow-commands.js'

/**
 * What the main step records, as it goes, for the post step: enough to put the host right when
 * the main step was cancelled or killed half-way. Written with saveState, which appends to
 * GITHUB_STATE at once, so it survives a SIGKILL. Never holds a secret (the file is on the runner).
 */
export interface Progress {
  /**
   * started: connected, nothing changed yet · admin: the admin container may exist ·
   * releasing: the image tag may point at the new release, production may be replaced ·
   * done: the main step finished and cleaned up after itself.
   */
  phase: 'started' | 'admin' | 'releasing' | 'done'
  adminContainer?: string
  previousImageId?: string
  releasedImageId?: string
  /** Production is this Swarm service: Swarm, not the post step, finishes or rolls back its update. */
  service?: string
  /** With several hosts: how far the rollout got on each of the others, by `host:port`. */
  others?: Record<string, HostProgress>
}

/** One additional host of a rollout: `releasing` from re-tagging until confirmed or rolled back. */
export interface HostProgress {
  phase: 'releasing' | 'done'
  previousImageId: string
  releasedImageId: string
}

export const isPost = (): boolean => getState(State.IsPost) === 'true'

export function markMainStarted(): void {
  saveState(State.IsPost, 'true')
}

export function saveProgress(progress: Progress): void {
  saveState(State.Progress, JSON.stringify(progress))
}

export function readProgress(): Progress | undefined {
  const raw = getState(State.Progress)
  if (!raw) return undefined
  try {
    return JSON.parse(raw) as Progress
  } catch {
    return undefined
  }
}
