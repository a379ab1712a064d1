#!/usr/bin/env bash
# A second Docker host on this machine, beside the local droplet (up.sh), for tests that roll
# one image out to two hosts:
#  - its own dockerd (data in /var/lib/hermes-docker2, socket /run/hermes-docker2.sock, its own
#    managed containerd under /run/hermes-docker2), no bridge, no iptables;
#  - its own sshd on 127.0.0.1:2242 for `core` (the user and keys up.sh made) whose sessions
#    get DOCKER_HOST=the second engine and a HOME of their own (the action keeps its deploy
#    lock and history under $HOME: two hosts must not share them);
#  - the first engine's baseline image, same ID, as texasca/api:latest, kept running as
#    texasca-api by second-supervisor.sh, app on http://127.0.0.1:18081/.
# `second.sh up` (idempotent, about a second when up) writes $STATE/second.json; `reset` puts
# the second host back to its baseline; `down` stops it all and keeps the data.
# The first engine is only ever read (`docker save` of its baseline image).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
# shellcheck source-path=SCRIPTDIR source=engine.sh
. "$HERE/engine.sh"

DIR="$STATE/second"
SECOND_SSH_PORT="${HERMES_SECOND_SSH_PORT:-2242}"
SECOND_APP_PORT="${HERMES_SECOND_APP_PORT:-18081}"
DATA_ROOT=/var/lib/hermes-docker2
SECOND_DOCKER_HOST=unix:///run/hermes-docker2.sock
SECOND_HOME="$DIR/home"
SUPERVISOR2_PIDFILE="$DIR/supervisor.pid"
SUPERVISOR2_ID=second-supervisor.sh
# lib.sh's app_ok/app_serves read APP_URL: here it is the second host's app.
APP_URL="http://$LOOPBACK:$SECOND_APP_PORT/"

# What engine.sh makes: dockerd 2 and sshd 2.
E_DIR="$DIR"
E_LABEL=2
E_ENGINE="second engine"
E_HOST_NAME="the second Docker host"
E_SCRIPT=second.sh
E_DATA_ROOT="$DATA_ROOT"
E_EXEC_ROOT=/run/hermes-docker2
E_DOCKER_HOST="$SECOND_DOCKER_HOST"
# Distinct from the first engine's "moby", should both ever share one containerd.
E_CONTAINERD_NS=hermes-docker2
E_CGROUP_PARENT=hermes-docker2
E_SSH_PORT="$SECOND_SSH_PORT"
E_SSH_PORT_VAR=HERMES_SECOND_SSH_PORT
E_HOME="$SECOND_HOME"
E_KEY_COMMENT=hermes-second-host

log() { printf 'second: %s\n' "$*"; }
die() { printf 'second: ERROR: %s\n' "$*" >&2; exit 1; }

# Every plain `docker` below, and in lib.sh's helpers, talks to the SECOND engine.
export DOCKER_HOST="$SECOND_DOCKER_HOST"

# --- production image ----------------------------------------------------------------
# The first engine's baseline, same ID (engine.sh), as texasca/api:latest.
ensure_image2() {
  engine_copy_baseline
  if [ "$E_OLD_BASELINE" != "$E_BASELINE" ] || ! image_exists "$IMAGE:latest"; then
    docker tag "$E_BASELINE" "$IMAGE:latest"
    printf '%s\n' "$E_BASELINE" >"$DIR/baseline_image"
    # A supervisor still running an old baseline must respawn from the new one.
    docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  fi
}

# --- supervisor ----------------------------------------------------------------------
start_supervisor2() {
  if ! pid_alive "$SUPERVISOR2_PIDFILE" "$SUPERVISOR2_ID"; then
    port_open "$SECOND_APP_PORT" && ! docker ps -q --filter "name=^$CONTAINER\$" | grep -q . &&
      die "port $SECOND_APP_PORT is taken by something other than the second host's $CONTAINER"
    log "starting supervisor for $CONTAINER on the second engine (log: $DIR/supervisor.log)"
    # Its own session, so `down` can stop it and its docker client together.
    HERMES_SECOND_DOCKER_HOST="$SECOND_DOCKER_HOST" HERMES_SECOND_APP_PORT="$SECOND_APP_PORT" \
      HERMES_DROPLET_IMAGE="$IMAGE" HERMES_DROPLET_CONTAINER="$CONTAINER" \
      HERMES_DROPLET_RESTART_DELAY="$RESTART_DELAY" \
      setsid "$HERE/second-supervisor.sh" </dev/null >>"$DIR/supervisor.log" 2>&1 &
    printf '%s\n' "$!" >"$SUPERVISOR2_PIDFILE"
  fi
  wait_for 60 "the second host's app at $APP_URL" \
    "Check $DIR/supervisor.log and 'DOCKER_HOST=$SECOND_DOCKER_HOST docker logs $CONTAINER'; if a test left a broken image, run second.sh reset." app_ok
}

stop_supervisor2() {
  if pid_alive "$SUPERVISOR2_PIDFILE" "$SUPERVISOR2_ID"; then
    log "stopping supervisor 2"
    kill -TERM -- "-$(cat "$SUPERVISOR2_PIDFILE")" 2>/dev/null || true
    # Its `docker run` client returns only once the container is gone (see down.sh).
    if docker_ok; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
  fi
  stop_pidfile "$SUPERVISOR2_PIDFILE" "$SUPERVISOR2_ID" group
}

# --- second.json -----------------------------------------------------------------------
write_json() {
  write_json_file "$STATE/second.json" \
    HOST "$LOOPBACK" PORT "$SECOND_SSH_PORT" USERNAME "$SSH_USER" \
    HOST_FINGERPRINT "$(cat "$DIR/host_fingerprint")" \
    KNOWN_HOSTS "$(cat "$DIR/known_hosts")" KNOWN_HOSTS_PATH "$DIR/known_hosts" \
    DOCKER_HOST "$SECOND_DOCKER_HOST" APP_URL "$APP_URL" \
    HEALTH_COMMAND "curl -fsS --max-time 5 $APP_URL >/dev/null" \
    IMAGE "$IMAGE" CONTAINER "$CONTAINER" \
    BASELINE_IMAGE "$(cat "$DIR/baseline_image")" BASELINE_COMMIT "$(cat "$DIR/baseline_commit")" \
    HOME_DIR "$SECOND_HOME" STATE_DIR "$DIR"
}

# --- commands --------------------------------------------------------------------------
up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it runs dockerd and sshd)"
  [ -s "$STATE/env" ] || die "run e2e/droplet/up.sh first (user $SSH_USER, keys, baseline image)"
  mkdir -p "$DIR"
  chmod 755 "$DIR" # core must reach its HOME below it
  engine_start_dockerd
  engine_start_sshd
  ensure_image2
  start_supervisor2
  write_json
  log "up: ssh -i $KEYS_DIR/id_ed25519 -o UserKnownHostsFile=$DIR/known_hosts -p $SECOND_SSH_PORT $SSH_USER@$LOOPBACK; app $APP_URL; env in $STATE/second.json"
}

reset() {
  if [ ! -s "$DIR/baseline_image" ] || [ ! -s "$DIR/baseline_commit" ]; then
    die "no baseline recorded in $DIR; run second.sh up first"
  fi
  docker_ok || die "dockerd 2 does not answer on $SECOND_DOCKER_HOST; run second.sh up first"
  pid_alive "$SUPERVISOR2_PIDFILE" "$SUPERVISOR2_ID" ||
    die "the second host's supervisor is not running; run second.sh up first"
  local baseline commit
  baseline="$(cat "$DIR/baseline_image")"
  commit="$(cat "$DIR/baseline_commit")"
  image_exists "$baseline" ||
    die "baseline image $baseline is gone from the second engine; remove $DIR/baseline_image and run second.sh up"

  # Re-tag first, so the supervisor can only ever respawn the baseline.
  docker tag "$baseline" "$IMAGE:latest"
  docker tag "$baseline" "$BASELINE_TAG"
  # The whole engine is this host's: every container goes; the supervisor respawns production.
  mapfile -t containers < <(docker ps -aq)
  if [ "${#containers[@]}" -gt 0 ]; then
    docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  fi
  # Only :latest stays in the production repository.
  mapfile -t tags < <(docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE" | grep -vx "$IMAGE:latest" | grep -v ':<none>$' || true)
  if [ "${#tags[@]}" -gt 0 ]; then
    docker rmi "${tags[@]}" >/dev/null
  fi
  docker image prune -f >/dev/null

  # If the supervisor resolved the old tag just before the re-tag, what answers is not the
  # baseline: remove it again and let the supervisor respawn.
  baseline_up() {
    app_serves "$commit" && return 0
    if app_ok; then
      docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
    fi
    return 1
  }
  wait_for 30 "the second host's app to serve the baseline commit $commit at $APP_URL" \
    "Check $DIR/supervisor.log and 'DOCKER_HOST=$SECOND_DOCKER_HOST docker logs $CONTAINER'." baseline_up
  log "reset to baseline $commit (image $baseline)"
}

down() {
  stop_supervisor2
  engine_stop_sshd
  engine_stop_dockerd
  log "down (data kept in $DATA_ROOT and $DIR)"
}

case "${1:-up}" in
  up) up ;;
  reset) reset ;;
  down) down ;;
  *) die "usage: second.sh up|reset|down" ;;
esac
