import { shScript, type Command } from '../shell.js'

/** Releases are tagged `<repository>:<first 12 hex digits of the commit>`. */
export function releaseTag(repository: string, commit: string): string {
  return `${repository}:${commit.slice(0, 12)}`
}

const RETAIN = `
repo=$1
keep=$2
shift 2
disk() { docker system df --format '{{.Type}} {{.Size}}' | awk '$1 == "Images" { print $2 }'; }
echo "before=$(disk)"
n=0
# Newest first, as docker image ls lists them.
docker image ls --no-trunc --format '{{.Tag}} {{.ID}}' "$repo" | while read -r tag id; do
  case $tag in ''|*[!0-9a-f]*) continue ;; esac
  [ \${#tag} -eq 12 ] || continue
  n=$((n + 1))
  if [ "$n" -le "$keep" ]; then echo "kept=$tag"; continue; fi
  for protected in "$@"; do
    if [ "$id" = "$protected" ]; then echo "protected=$tag"; continue 2; fi
  done
  docker rmi "$repo:$tag" >/dev/null && echo "removed=$tag"
done
# Images this action made (its commit message) that are now untagged and unused.
for id in $(docker images -q --no-trunc --filter dangling=true); do
  case $(docker image inspect --format '{{.Comment}}' "$id" 2>/dev/null) in
    hermes-deploy*) docker rmi "$id" >/dev/null 2>&1 && echo "pruned=$id" ;;
  esac
done
echo "after=$(disk)"
`

/**
 * Keep the newest `keep` releases of the repository; remove older release tags (never one on a
 * protected image: the running one, the rollback target) and the dangling images of ours they
 * leave. Prints what it did and the disk images use before and after.
 */
export function retain(repository: string, keep: number, protectedIds: string[]): Command {
  return shScript(RETAIN, repository, String(keep), ...protectedIds)
}

export interface Retention {
  kept: string[]
  removed: string[]
  protected: string[]
  pruned: number
  diskBefore: string
  diskAfter: string
}

export function parseRetention(output: string): Retention {
  const result: Retention = {
    kept: [],
    removed: [],
    protected: [],
    pruned: 0,
    diskBefore: '',
    diskAfter: ''
  }
  for (const line of output.split('\n')) {
    const [key, value = ''] = line.trim().split('=')
    if (key === 'kept' || key === 'removed' || key === 'protected') result[key].push(value)
    else if (key === 'pruned') result.pruned += 1
    else if (key === 'before') result.diskBefore = value
    else if (key === 'after') result.diskAfter = value
  }
  return result
}
