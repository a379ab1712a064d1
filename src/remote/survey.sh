#!/bin/sh
# Print the inspects of image $1 and of every container (#inspect, one JSON line each); with repo path $3, the commit there in each running container of $1 (or $2, or named $4) as #heads; with $5, the last deploys in its history (#history).
if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not on the PATH of a non-interactive SSH session ($PATH)" >&2
  exit 127
fi
# Each docker command costs tens of milliseconds: one lists, one inspects the image and every
# container at once, and the commits are read meanwhile. Only IDs, names and commits go through
# files; the inspects, which hold production's environment, stay in memory.
work=$(mktemp -d "${TMPDIR:-/tmp}/hermes-survey.XXXXXX") || exit 70
trap 'rm -rf "$work"' EXIT
docker ps -a --no-trunc --format '{{.ID}} {{.State}} {{.Image}} {{.Names}} {{if .Label "hermes-deploy.standin"}}standin{{else}}-{{end}}' \
  >"$work/ps" || exit $?
if [ -n "$3" ]; then
  # Production's commit, read here rather than in a round trip of its own: in every running
  # container that production could be (the deploy picks it from the inspects). Image references
  # and container names have no spaces.
  while read -r id state image name standin; do
    if [ "$state" != running ] || [ "$standin" != - ]; then continue; fi
    case "$image $name $id" in
      "$1 "* | "$2 "*) ;;
      *)
        if [ -z "$4" ]; then continue; fi
        case " $name $id" in *" $4"*) ;; *) continue ;; esac
        ;;
    esac
    {
      head=$(docker exec --workdir "$3" "$id" git -c safe.directory="$3" rev-parse --verify HEAD 2>&1 </dev/null)
      code=$?
      printf '%s %s %s\n' "$id" "$code" "$(printf '%s' "$head" | base64 | tr -d '\n')" >"$work/head.$id"
    } &
  done <"$work/ps"
fi
echo '#inspect'
# The image first (absent when the host lacks it). A container can vanish between ps and inspect
# (the supervisor at work): docker inspects the rest.
# shellcheck disable=SC2046 # the IDs: one argument each
docker inspect --format '{{json .}}' "$1" $(cut -d ' ' -f 1 "$work/ps") 2>/dev/null
wait
if [ -n "$3" ]; then
  echo '#heads'
  for head in "$work"/head.*; do [ ! -e "$head" ] || cat "$head"; done
fi
if [ -n "$5" ]; then
  echo '#history'
  tail -n 199 "$HOME/.hermes-deploy/history/$5.jsonl" 2>/dev/null
fi
true
