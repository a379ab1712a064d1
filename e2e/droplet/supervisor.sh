#!/usr/bin/env bash
# Plays the droplet's systemd unit for the production container: whenever it
# is gone, start it again from whatever image the tag points at *now*, so a
# re-tagged image is what respawns (runbook step 7).
# No `set -e`: a failed `docker run` must not end the loop.
set -uo pipefail

IMAGE_REF="${HERMES_DROPLET_IMAGE:-texasca/api}:${HERMES_DROPLET_TAG:-latest}"
CONTAINER="${HERMES_DROPLET_CONTAINER:-texasca-api}"
DELAY="${HERMES_DROPLET_RESTART_DELAY:-1}"

trap 'echo "supervisor: stopping"; exit 0' TERM INT

while true; do
  docker rm -f "$CONTAINER" >/dev/null 2>&1
  echo "supervisor: $(date -u +%FT%TZ) starting $CONTAINER from $IMAGE_REF ($(docker image inspect -f '{{.Id}}' "$IMAGE_REF" 2>/dev/null || echo missing))"
  # --pull=never: a missing image must fail here, never reach for a registry. --init: the app is
  # not PID 1, so it ends on the stop signal (SIGTERM) of a graceful stop, as most supervised
  # apps do; PID 1 would ignore a signal it has no handler for.
  docker run --rm --init --pull=never --name "$CONTAINER" --network host \
    -e RUNTIME_SECRET=from-supervisor "$IMAGE_REF"
  rc=$?
  echo "supervisor: $(date -u +%FT%TZ) $CONTAINER exited with status $rc"
  sleep "$DELAY"
done
