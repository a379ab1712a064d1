#!/usr/bin/env bash
# supervisor.sh for the second Docker host (second.sh): the same respawn loop, but on the second
# engine, and with the app on its own port (both engines share the machine's network, so the
# first host's app already holds 18080).
# No `set -e`: a failed `docker run` must not end the loop.
set -uo pipefail

# Required, never defaulted: without it this loop would remove the FIRST engine's production.
DOCKER_HOST="${HERMES_SECOND_DOCKER_HOST:?HERMES_SECOND_DOCKER_HOST must name the second engine}"
export DOCKER_HOST
IMAGE_REF="${HERMES_DROPLET_IMAGE:-texasca/api}:${HERMES_DROPLET_TAG:-latest}"
CONTAINER="${HERMES_DROPLET_CONTAINER:-texasca-api}"
PORT="${HERMES_SECOND_APP_PORT:-18081}"
DELAY="${HERMES_DROPLET_RESTART_DELAY:-1}"

trap 'echo "second-supervisor: stopping"; exit 0' TERM INT

while true; do
  docker rm -f "$CONTAINER" >/dev/null 2>&1
  echo "second-supervisor: $(date -u +%FT%TZ) starting $CONTAINER from $IMAGE_REF ($(docker image inspect -f '{{.Id}}' "$IMAGE_REF" 2>/dev/null || echo missing)) on $DOCKER_HOST"
  # --pull=never: a missing image must fail here, never reach for a registry. --init: the app is
  # not PID 1, so it ends on the stop signal (SIGTERM) of a graceful stop, as most supervised
  # apps do; PID 1 would ignore a signal it has no handler for. The arguments
  # after the image go to its ENTRYPOINT, start.sh, and win over the image's PORT.
  docker run --rm --init --pull=never --name "$CONTAINER" --network host \
    -e RUNTIME_SECRET=from-supervisor -e DROPLET_NAME=second "$IMAGE_REF" --port "$PORT"
  rc=$?
  echo "second-supervisor: $(date -u +%FT%TZ) $CONTAINER exited with status $rc"
  sleep "$DELAY"
done
