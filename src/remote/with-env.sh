#!/bin/sh
# In the admin container: run "$5"… with the environment in $1 (and $2 when $3=build); with $4=write, first write the export lines on stdin to $1 and those after a `#build-env` line to $2, readable by this user only.
env=$1 build_env=$2 build=$3 write=$4
shift 4
if [ "$write" = write ]; then
  (
    umask 077
    file=$env
    : >"$env" && : >"$build_env" || exit 1
    while IFS= read -r line; do
      if [ "$line" = '#build-env' ]; then file=$build_env; continue; fi
      printf '%s\n' "$line" >>"$file" || exit 1
    done
  ) || {
    echo "Could not write production's environment to $env in the admin container." >&2
    exit 70
  }
fi
# shellcheck source=/dev/null # export lines written above, by this script
. "$env" || exit 70
# shellcheck source=/dev/null
if [ "$build" = build ]; then . "$build_env" || exit 70; fi
exec "$@"
