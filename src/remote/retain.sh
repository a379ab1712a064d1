#!/bin/sh
# Tag $3 as $1:$4, keep $2 release tags of $1, remove older ones not on IDs $5..., prune ours.
repo=$1
keep=$2
docker tag "$3" "$repo:$4" || exit 1
shift 4
disk() { docker system df --format '{{.Type}} {{.Size}}' | awk '$1 == "Images" { print $2 }'; }
n=0
doomed=
# Newest first, as docker image ls lists them.
for line in $(docker image ls --no-trunc --format '{{.Tag}}/{{.ID}}' "$repo"); do
  tag=${line%%/*}
  id=${line#*/}
  case $tag in ''|*[!0-9a-f]*) continue ;; esac
  [ ${#tag} -eq 12 ] || continue
  n=$((n + 1))
  if [ "$n" -le "$keep" ]; then echo "kept=$tag"; continue; fi
  for protected in "$@"; do
    if [ "$id" = "$protected" ]; then echo "protected=$tag"; continue 2; fi
  done
  doomed="$doomed $tag"
done
# Images this action made for this repository (their commit message) that are untagged and
# unused: another repository's release is dangling between its commit and its swap.
ours=
for id in $(docker images -q --no-trunc --filter dangling=true); do
  case $(docker image inspect --format '{{.Comment}}' "$id" 2>/dev/null) in "hermes-deploy "*" $repo") ours="$ours $id" ;; esac
done
before=$(disk)
echo "before=$before"
[ -n "$doomed$ours" ] || { echo "after=$before"; exit 0; }
for tag in $doomed; do docker rmi "$repo:$tag" >/dev/null && echo "removed=$tag"; done
for id in $ours; do docker rmi "$id" >/dev/null 2>&1 && echo "pruned=$id"; done
# Removing release tags can leave more of ours dangling.
for id in $(docker images -q --no-trunc --filter dangling=true); do
  case $(docker image inspect --format '{{.Comment}}' "$id" 2>/dev/null) in
    "hermes-deploy "*" $repo") docker rmi "$id" >/dev/null 2>&1 && echo "pruned=$id" ;;
  esac
done
echo "after=$(disk)"
