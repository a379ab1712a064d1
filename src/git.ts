import {
  changedFiles as CHANGED_FILES,
  currentCommit as CURRENT_COMMIT,
  fastForward as FAST_FORWARD,
  fetchAndRelate as FETCH_AND_RELATE,
  filesBetween as FILES_BETWEEN,
  remoteTip as REMOTE_TIP
} from './remote/scripts.js'
import { parseKeyValues } from './key-value.js'
import { shScript, type Command } from './shell.js'

// Every git call runs inside a container through `docker exec --workdir <repo-path>`, as
// `git -c safe.directory="$PWD"` (src/remote/*.sh): the checkout may belong to another user than
// the one docker exec runs as.

export function currentCommit(): Command {
  return shScript(CURRENT_COMMIT)
}

/** Tracked files with changes; untracked files (build output) do not count. */
export function changedFiles(): Command {
  return shScript(CHANGED_FILES)
}

/**
 * List local changes, fetch the branch from origin, and say how the wanted commit relates to what
 * is checked out (see `parseRelation`). The local changes are listed first (the runbook's `git
 * diff`, before the pull); the fetch only moves remote-tracking refs, so doing both in one round
 * trip changes nothing either way. With `update`, the same round trip also fast-forwards (as
 * `fastForward`) when the tree is clean and the ref is on the branch, ahead of HEAD: exactly when
 * `decideUpdate` goes on to update, unless `force` releases HEAD again.
 */
export function fetchAndRelate(branch: string, ref: string, update = false): Command {
  return shScript(FETCH_AND_RELATE, branch, ref, ...(update ? [FAST_FORWARD] : []))
}

export interface Relation {
  /** `git status --porcelain` lines of tracked files with local changes. */
  changed: string
  head: string
  /** Empty when the ref was not found after the fetch. */
  target: string
  fastForward: boolean
  behind: boolean
  onBranch: boolean
  /** Set when the check fast-forwarded to `target` too (`fetchAndRelate` with `update`). */
  updated?: Range
}

export function parseRelation(output: string): Relation {
  const [checked, update] = output.split(/^#update\n/m)
  const [, changed = '', relation = ''] = checked.split(/^#(?:changed|relation)$/m)
  const values = parseKeyValues(relation)
  return {
    changed: changed.replace(/^\n+|\s+$/g, ''),
    head: values.get('head'),
    target: values.get('target'),
    fastForward: values.get('fast_forward') === 'yes',
    behind: values.get('behind') === 'yes',
    onBranch: values.get('on_branch') === 'yes',
    ...(update === undefined ? {} : { updated: parseRange(update) })
  }
}

/** Move the checkout to the commit (fast-forward only) and print the range that went out. */
export function fastForward(target: string): Command {
  return shScript(FAST_FORWARD, target)
}

/** What a fast-forward brought in. */
export interface Range {
  commits: string[]
  diffStat: string
  /** When the commit deployed was committed (ISO 8601), if git said. */
  committedAt?: string
}

export function parseRange(output: string): Range {
  const [, log = '', stat = '', time = ''] = output.split(/^#(?:log|stat|time)$/m)
  return {
    commits: log.split('\n').filter(line => line.trim()),
    diffStat: stat.replace(/^\n+|\s+$/g, ''),
    committedAt: time.trim() || undefined
  }
}

/** The branch's tip on origin without fetching: for a dry run, which changes nothing. */
export function remoteTip(branch: string): Command {
  return shScript(REMOTE_TIP, branch)
}

/** The files changed between two commits, for the path filter when GitHub's API gave none. */
export function filesBetween(from: string, to: string): Command {
  return shScript(FILES_BETWEEN, from, to)
}
