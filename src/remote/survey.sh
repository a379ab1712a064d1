#!/bin/sh
# Print the inspect of image $1 (or null) and of every container (#image, #containers); with repo path $3, the commit there in each running container of $1 (or $2, or named $4) as #heads; with $5, the last deploys in its history (#history).
if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not on the PATH of a non-interactive SSH session ($PATH)" >&2
  exit 127
fi
echo '#image'
image=$(docker image inspect --format '{{.Id}} {{json .}}' "$1" 2>/dev/null) || image=
if [ -n "$image" ]; then printf '%s\n' "${image#* }"; else echo null; fi
echo '#containers'
ids=$(docker ps -aq --no-trunc) || exit $?
# A container can vanish between ps and inspect (the supervisor at work): inspect the rest. Each
# is a line of the fields the commit read below needs, then its inspect as a JSON line.
# shellcheck disable=SC2086 # $ids: container IDs, split into one argument each
[ -z "$ids" ] || containers=$(docker inspect --format '{{.Id}} {{.State.Running}} {{.Image}} {{.Config.Image}} {{.Name}} {{if index .Config.Labels "hermes-deploy.standin"}}standin{{else}}-{{end}}{{"\n"}}{{json .}}' $ids 2>/dev/null)
printf '%s\n' "${containers:-}" | grep '^{'
if [ -n "$3" ]; then
  # Production's commit, read here rather than in a round trip of its own: in every running
  # container that production could be (the deploy picks it from the inspects above).
  echo '#heads'
  printf '%s\n' "${containers:-}" | grep -v '^{' | while read -r id running from config name standin; do
    if [ "$running" != true ] || [ "$standin" != - ]; then continue; fi
    # Image references and container names have no spaces.
    case $config in
      "$1" | "$2") ;;
      *) [ "$from" = "${image%% *}" ] || [ "$name" = "/$4" ] || { [ -n "$4" ] && case $id in "$4"*) true ;; *) false ;; esac } || continue ;;
    esac
    head=$(docker exec --workdir "$3" "$id" git -c safe.directory="$3" rev-parse --verify HEAD 2>&1 </dev/null)
    code=$?
    printf '%s %s %s\n' "$id" "$code" "$(printf '%s' "$head" | base64 | tr -d '\n')"
  done
fi
if [ -n "$5" ]; then
  echo '#history'
  tail -n 199 "$HOME/.hermes-deploy/history/$5.jsonl" 2>/dev/null
fi
true
