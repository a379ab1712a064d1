#!/bin/sh
# Serves build/ over HTTP in the foreground: the container lives as long as
# the server does. Its port: --port, else $PORT (as most apps read it), else 8080.
set -eu
cd "$(dirname "$0")"

port="${PORT:-8080}"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --port=*) port="${1#--port=}"; shift ;;
    *) echo "start.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ ! -f build/VERSION ]; then
  echo "start.sh: build/ is missing, run ./build.sh first" >&2
  exit 1
fi

echo "start.sh: starting $(cat build/VERSION) on 127.0.0.1:$port (APP_ENV=${APP_ENV:-unset})"
exec busybox httpd -f -p "127.0.0.1:$port" -h "$PWD/build"
