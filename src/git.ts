import { shScript, type Command } from './shell.js'

// Every git call runs inside a container through `docker exec --workdir <repo-path>`.
// safe.directory: the checkout may belong to another user than the one docker exec runs as.
const GIT = 'git -c safe.directory="$PWD"'

export function currentCommit(): Command {
  return shScript(`${GIT} rev-parse --verify HEAD`)
}

/** Tracked files with changes; untracked files (build output) do not count. */
export function changedFiles(): Command {
  return shScript(`${GIT} status --porcelain --untracked-files=no`)
}

// The checkout's local changes are listed first (the runbook's `git diff`, before the pull); the
// fetch only moves remote-tracking refs, so doing both in one round trip changes nothing either way.
const FETCH_AND_RELATE = `
set -e
echo '#changed'
${GIT} status --porcelain --untracked-files=no
echo '#relation'
${GIT} fetch --quiet origin "+refs/heads/$1:refs/remotes/origin/$1"
head=$(${GIT} rev-parse --verify HEAD)
target=
case $2 in
  *[!0-9a-f]*) target=$(${GIT} rev-parse --verify --quiet "refs/remotes/origin/$2^{commit}" || ${GIT} rev-parse --verify --quiet "refs/tags/$2^{commit}" || true) ;;
  *) target=$(${GIT} rev-parse --verify --quiet "$2^{commit}" || true) ;;
esac
echo "head=$head"
echo "target=$target"
[ -n "$target" ] || exit 0
relation() { if ${GIT} merge-base --is-ancestor "$1" "$2"; then echo yes; else echo no; fi; }
echo "fast_forward=$(relation "$head" "$target")"
echo "behind=$(relation "$target" "$head")"
echo "on_branch=$(relation "$target" "refs/remotes/origin/$1")"
`

/**
 * List local changes, fetch the branch from origin, and say how the wanted commit relates to what
 * is checked out (see `parseRelation`).
 */
export function fetchAndRelate(branch: string, ref: string): Command {
  return shScript(FETCH_AND_RELATE, branch, ref)
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
}

export function parseRelation(output: string): Relation {
  const [, changed = '', relation = ''] = output.split(/^#(?:changed|relation)$/m)
  const values = new Map(
    relation
      .split('\n')
      .map(line => line.trim().split('='))
      .filter(parts => parts.length === 2)
      .map(([key, value]) => [key, value] as const)
  )
  return {
    changed: changed.replace(/^\n+|\s+$/g, ''),
    head: values.get('head') ?? '',
    target: values.get('target') ?? '',
    fastForward: values.get('fast_forward') === 'yes',
    behind: values.get('behind') === 'yes',
    onBranch: values.get('on_branch') === 'yes'
  }
}

const FAST_FORWARD = `
set -e
old=$(${GIT} rev-parse --verify HEAD)
${GIT} merge --ff-only --quiet "$1"
echo '#log'
${GIT} log --oneline --no-decorate "$old..$1" | head -n 500
echo '#stat'
${GIT} diff --stat "$old" "$1" | tail -n 300
`

/** Move the checkout to the commit (fast-forward only) and print the range that went out. */
export function fastForward(target: string): Command {
  return shScript(FAST_FORWARD, target)
}

export function parseRange(output: string): { commits: string[]; diffStat: string } {
  const [, log = '', stat = ''] = output.split(/^#(?:log|stat)$/m)
  return {
    commits: log.split('\n').filter(line => line.trim()),
    diffStat: stat.replace(/^\n+|\s+$/g, '')
  }
}

const REMOTE_TIP = `${GIT} ls-remote --exit-code origin "refs/heads/$1"`

/** The branch's tip on origin without fetching: for a dry run, which changes nothing. */
export function remoteTip(branch: string): Command {
  return shScript(REMOTE_TIP, branch)
}

/** The files changed between two commits, for the path filter when GitHub's API gave none. */
export function filesBetween(from: string, to: string): Command {
  return shScript(`${GIT} diff --name-only "$1" "$2"`, from, to)
}
