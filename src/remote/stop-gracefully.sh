#!/bin/sh
# Stop container $1 gracefully, then remove it (not when $3=keep; $3=auto: Docker does, it runs with --rm): its stop signal, then up to $2 s (empty: its own StopTimeout, else Docker's 10 s) before Docker kills it. Prints stop-timed-out=<s> when it was killed; succeeds when the container is gone (or, kept or auto, stopped).
timeout=$2
if [ -z "$timeout" ]; then
  timeout=$(docker container inspect --format '{{if .Config.StopTimeout}}{{.Config.StopTimeout}}{{end}}' "$1" 2>/dev/null) || timeout=
  [ -n "$timeout" ] || timeout=10
fi
# -t, not --time or --timeout: the one spelling Docker's CLI has taken from 20.10 to now.
started=$(date +%s)
stopped=no
if docker stop -t "$timeout" "$1" >/dev/null 2>&1; then
  stopped=yes
  [ $(($(date +%s) - started)) -lt "$timeout" ] || echo "stop-timed-out=$timeout"
fi
case $3 in
  keep)
    [ "$(docker container inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = false ]
    exit
    ;;
  # Run with --rm: Docker removes it once it has stopped; nothing is left to do.
  auto) [ "$stopped" = yes ] || ! docker container inspect "$1" >/dev/null 2>&1 ;;
  # A container started with --rm is gone once stopped; one that is not is removed now.
  *) docker rm --force "$1" >/dev/null 2>&1 || ! docker container inspect "$1" >/dev/null 2>&1 ;;
esac
