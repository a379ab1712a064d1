import { shScript, type Command } from '../shell.js'

/** Releases are tagged `<repository>:<first 12 hex digits of the commit>`. */
export function releaseTag(commit: string): string {
  return commit.slice(0, 12)
}

const RETAIN = `
repo=$1
keep=$2
docker tag "$3" "$repo:$4" || exit 1
shift 4
disk() { docker system df --format '{{.Type}} {{.Size}}' | awk '$1 == "Images" { print $2 }'; }
n=0
doomed=
# Newest first, as docker image ls lists them.
for line in $(docker image ls --no-trunc --format '{{.Tag}}/{{.ID}}' "$repo"); do
  tag=\${line%%/*}
  id=\${line#*/}
  case $tag in ''|*[!0-9a-f]*) continue ;; esac
  [ \${#tag} -eq 12 ] || continue
  n=$((n + 1))
  if [ "$n" -le "$keep" ]; then echo "kept=$tag"; continue; fi
  for protected in "$@"; do
    if [ "$id" = "$protected" ]; then echo "protected=$tag"; continue 2; fi
  done
  doomed="$doomed $tag"
done
# Images this action made (its commit message) that are untagged and unused.
ours=
for id in $(docker images -q --no-trunc --filter dangling=true); do
  case $(docker image inspect --format '{{.Comment}}' "$id" 2>/dev/null) in hermes-deploy*) ours="$ours $id" ;; esac
done
before=$(disk)
echo "before=$before"
[ -n "$doomed$ours" ] || { echo "after=$before"; exit 0; }
for tag in $doomed; do docker rmi "$repo:$tag" >/dev/null && echo "removed=$tag"; done
for id in $ours; do docker rmi "$id" >/dev/null 2>&1 && echo "pruned=$id"; done
# Removing release tags can leave more of ours dangling.
for id in $(docker images -q --no-trunc --filter dangling=true); do
  case $(docker image inspect --format '{{.Comment}}' "$id" 2>/dev/null) in
    hermes-deploy*) docker rmi "$id" >/dev/null 2>&1 && echo "pruned=$id" ;;
  esac
done
echo "after=$(disk)"
`

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
