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

DIR="$STATE/second"
SECOND_SSH_PORT="${HERMES_SECOND_SSH_PORT:-2242}"
SECOND_APP_PORT="${HERMES_SECOND_APP_PORT:-18081}"
DATA_ROOT=/var/lib/hermes-docker2
EXEC_ROOT=/run/hermes-docker2
SECOND_DOCKER_HOST=unix:///run/hermes-docker2.sock
FIRST_DOCKER_HOST=unix:///var/run/docker.sock
# Distinct from the first engine's "moby", should both ever share one containerd.
CONTAINERD_NS=hermes-docker2
SECOND_HOME="$DIR/home"
DOCKERD2_PIDFILE="$DIR/dockerd.pid"
DOCKERD2_ID="--pidfile $DOCKERD2_PIDFILE"
# dockerd's own containerd (it starts one when no system containerd answers on
# /run/containerd/containerd.sock) lives under the exec-root.
CONTAINERD2_PIDFILE="$EXEC_ROOT/containerd/containerd.pid"
CONTAINERD2_ID="$EXEC_ROOT/containerd/containerd.toml"
SSHD2_CONF="$DIR/sshd_config"
SSHD2_PIDFILE="$DIR/sshd.pid"
SUPERVISOR2_PIDFILE="$DIR/supervisor.pid"
SUPERVISOR2_ID=second-supervisor.sh
KNOWN_HOSTS2="$DIR/known_hosts"
# lib.sh's app_ok/app_serves read APP_URL: here it is the second host's app.
APP_URL="http://$LOOPBACK:$SECOND_APP_PORT/"

log() { printf 'second: %s\n' "$*"; }
die() { printf 'second: ERROR: %s\n' "$*" >&2; exit 1; }

# Every plain `docker` below, and in lib.sh's helpers, talks to the SECOND engine. The first
# engine is reached only through first_docker, and only to read.
export DOCKER_HOST="$SECOND_DOCKER_HOST"
first_docker() { DOCKER_HOST="$FIRST_DOCKER_HOST" docker "$@"; }

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

ssh_core2() {
  ssh -F /dev/null -i "$KEYS_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$KNOWN_HOSTS2" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -p "$SECOND_SSH_PORT" "$SSH_USER@$LOOPBACK" "$@"
}

# --- dockerd 2 -------------------------------------------------------------------
start_dockerd2() {
  if ! docker_ok; then
    pid_alive "$DOCKERD2_PIDFILE" "$DOCKERD2_ID" &&
      die "dockerd 2 (pid $(cat "$DOCKERD2_PIDFILE")) runs but does not answer on $SECOND_DOCKER_HOST; see $DIR/dockerd.log"
    # A dockerd that was killed leaves its pidfile, and a new one refuses to start beside it.
    rm -f "$DOCKERD2_PIDFILE"
    mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
    # Our own (empty) config file, so a future /etc/docker/daemon.json (hosts, data-root, ...)
    # can never make the two daemons collide.
    [ -f "$DIR/daemon.json" ] || printf '{}\n' >"$DIR/daemon.json"
    log "starting dockerd 2 on $SECOND_DOCKER_HOST (log: $DIR/dockerd.log)"
    # Everything a daemon keeps on disk or in /run is its own: data-root, exec-root (metrics
    # socket, runc state, its managed containerd), pidfile, cgroup parent (only the identity
    # key /etc/docker/key.json is shared: dockerd 20.10 has no flag for it, so `docker info`
    # shows one ID for both). No bridge, no iptables, no ip_forward sysctl: containers use the
    # host's network, as on the first host.
    setsid dockerd --config-file "$DIR/daemon.json" \
      --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" \
      -H "$SECOND_DOCKER_HOST" -G docker --pidfile "$DOCKERD2_PIDFILE" \
      --containerd-namespace "$CONTAINERD_NS" --containerd-plugins-namespace "$CONTAINERD_NS-plugins" \
      --cgroup-parent hermes-docker2 \
      --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
      </dev/null >>"$DIR/dockerd.log" 2>&1 &
    local pid=$! deadline=$((SECONDS + 60))
    until docker_ok; do
      if ((SECONDS >= deadline)) || ! kill -0 "$pid" 2>/dev/null; then
        tail_log "$DIR/dockerd.log"
        die "dockerd 2 did not answer on $SECOND_DOCKER_HOST within 60s; see $DIR/dockerd.log (tail above)"
      fi
      sleep 0.2
    done
  fi
  # Whatever answers on our socket must be our daemon, never the first one.
  local root
  root="$(docker info --format '{{.DockerRootDir}}')"
  [ "$root" = "$DATA_ROOT" ] || die "$SECOND_DOCKER_HOST is a daemon with data-root $root, not $DATA_ROOT"
}

# --- sshd 2 ----------------------------------------------------------------------
start_sshd2() {
  if ! id "$SSH_USER" >/dev/null 2>&1 || [ ! -s "/home/$SSH_USER/.ssh/authorized_keys" ]; then
    die "user $SSH_USER or its authorized_keys is missing; run e2e/droplet/up.sh first"
  fi
  mkdir -p /run/sshd
  chmod 755 /run/sshd # privilege separation directory
  # The second host's HOME for core: its own ~/.hermes-deploy (locks, history).
  install -d -o "$SSH_USER" -g "$SSH_USER" -m 755 "$SECOND_HOME"
  local t
  for t in ed25519 ecdsa rsa; do
    [ -f "$DIR/ssh_host_${t}_key" ] || ssh-keygen -q -t "$t" -N '' -C "hermes-second-host-$t" -f "$DIR/ssh_host_${t}_key"
  done
  cat >"$SSHD2_CONF.new" <<CONF
# Dedicated sshd of the second Docker host (not the system one). Written by second.sh.
ListenAddress $LOOPBACK
Port $SECOND_SSH_PORT
HostKey $DIR/ssh_host_ed25519_key
HostKey $DIR/ssh_host_ecdsa_key
HostKey $DIR/ssh_host_rsa_key
PidFile $SSHD2_PIDFILE
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $SSH_USER
PermitRootLogin no
StrictModes yes
PrintMotd no
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
# Every session (exec ones too) talks to the second engine and keeps its own HOME. SetEnv is
# applied after sshd's own HOME/USER/PATH, so it wins.
SetEnv DOCKER_HOST=$SECOND_DOCKER_HOST HOME=$SECOND_HOME
CONF
  local changed=0
  if ! cmp -s "$SSHD2_CONF.new" "$SSHD2_CONF"; then
    mv "$SSHD2_CONF.new" "$SSHD2_CONF"
    changed=1
  else
    rm -f "$SSHD2_CONF.new"
  fi
  /usr/sbin/sshd -t -f "$SSHD2_CONF" || die "sshd rejected $SSHD2_CONF (see message above)"
  if pid_alive "$SSHD2_PIDFILE" "$SSHD2_CONF" && [ "$changed" = 1 ]; then
    log "sshd config changed, restarting sshd 2"
    stop_pidfile "$SSHD2_PIDFILE" "$SSHD2_CONF"
  fi
  if ! pid_alive "$SSHD2_PIDFILE" "$SSHD2_CONF"; then
    port_open "$SECOND_SSH_PORT" &&
      die "port $SECOND_SSH_PORT is already taken by another process (not our sshd); free it or set HERMES_SECOND_SSH_PORT"
    log "starting sshd 2 on $LOOPBACK:$SECOND_SSH_PORT (log: $DIR/sshd.log)"
    /usr/sbin/sshd -f "$SSHD2_CONF" -E "$DIR/sshd.log" </dev/null >/dev/null 2>&1 ||
      { tail_log "$DIR/sshd.log"; die "sshd 2 failed to start; see $DIR/sshd.log"; }
  fi
  wait_for 10 "sshd 2 on $LOOPBACK:$SECOND_SSH_PORT" "See $DIR/sshd.log." port_open "$SECOND_SSH_PORT"

  # known_hosts exactly as ssh-keyscan prints it.
  local kh=""
  for t in rsa ecdsa ed25519; do
    kh+="[$LOOPBACK]:$SECOND_SSH_PORT $(cut -d' ' -f1,2 "$DIR/ssh_host_${t}_key.pub")"$'\n'
  done
  printf '%s' "$kh" >"$KNOWN_HOSTS2"
  ssh-keygen -lf "$DIR/ssh_host_ed25519_key.pub" | cut -d' ' -f2 >"$DIR/host_fingerprint"

  # A session must land on the second engine with its own HOME, or tests would deploy to the
  # wrong host.
  local seen
  # shellcheck disable=SC2016 # expanded by the remote shell
  seen="$(ssh_core2 'printf "%s %s " "$DOCKER_HOST" "$HOME"; docker info --format "{{.DockerRootDir}}"')" ||
    die "'ssh -p $SECOND_SSH_PORT $SSH_USER@$LOOPBACK docker info' failed; see $DIR/sshd.log"
  [ "$seen" = "$SECOND_DOCKER_HOST $SECOND_HOME $DATA_ROOT" ] ||
    die "a session on sshd 2 sees '$seen', not '$SECOND_DOCKER_HOST $SECOND_HOME $DATA_ROOT'"
}

# --- production image ----------------------------------------------------------------
# The first engine's baseline (not whatever its :latest is now: a test may have deployed
# there), copied with the same image ID.
ensure_image2() {
  local want old=""
  [ -s "$DIR/baseline_image" ] && old="$(cat "$DIR/baseline_image")"
  if ! want="$(first_docker image inspect --format '{{.Id}}' "$BASELINE_TAG" 2>/dev/null)"; then
    # The first host down: the second can still come up on the baseline it already has.
    { [ -n "$old" ] && image_exists "$old"; } ||
      die "the first engine ($FIRST_DOCKER_HOST) has no $BASELINE_TAG to copy; run e2e/droplet/up.sh first"
    log "the first engine has no $BASELINE_TAG (down?); keeping the recorded baseline $old"
    want="$old"
  fi
  if ! image_exists "$want"; then
    log "copying $BASELINE_TAG ($want) from the first engine"
    first_docker save "$BASELINE_TAG" | docker load >/dev/null ||
      die "docker save $BASELINE_TAG | docker load (second engine) failed"
  fi
  image_exists "$want" || die "after docker load the second engine has no image $want (IDs differ?)"
  docker tag "$want" "$BASELINE_TAG"
  if [ "$old" != "$want" ] || [ ! -s "$DIR/baseline_commit" ]; then
    # What the baseline serves: the commit its build wrote.
    docker run --rm --pull=never --network none --entrypoint cat "$want" /srv/app/build/VERSION \
      >"$DIR/baseline_commit.tmp" || die "could not read /srv/app/build/VERSION from $want"
    mv "$DIR/baseline_commit.tmp" "$DIR/baseline_commit"
  fi
  if [ "$old" != "$want" ] || ! image_exists "$IMAGE:latest"; then
    docker tag "$want" "$IMAGE:latest"
    printf '%s\n' "$want" >"$DIR/baseline_image"
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
json_escape() {
  local s="${1//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '%s' "${s//$'\n'/\\n}"
}

write_json() {
  local -a keys=(HOST PORT USERNAME HOST_FINGERPRINT KNOWN_HOSTS KNOWN_HOSTS_PATH DOCKER_HOST
    APP_URL HEALTH_COMMAND IMAGE CONTAINER BASELINE_IMAGE BASELINE_COMMIT HOME_DIR STATE_DIR)
  local -A v=(
    [HOST]="$LOOPBACK" [PORT]="$SECOND_SSH_PORT" [USERNAME]="$SSH_USER"
    [HOST_FINGERPRINT]="$(cat "$DIR/host_fingerprint")"
    [KNOWN_HOSTS]="$(cat "$KNOWN_HOSTS2")" [KNOWN_HOSTS_PATH]="$KNOWN_HOSTS2"
    [DOCKER_HOST]="$SECOND_DOCKER_HOST" [APP_URL]="$APP_URL"
    [HEALTH_COMMAND]="curl -fsS --max-time 5 $APP_URL >/dev/null"
    [IMAGE]="$IMAGE" [CONTAINER]="$CONTAINER"
    [BASELINE_IMAGE]="$(cat "$DIR/baseline_image")" [BASELINE_COMMIT]="$(cat "$DIR/baseline_commit")"
    [HOME_DIR]="$SECOND_HOME" [STATE_DIR]="$DIR"
  )
  local k json="{" sep=""
  for k in "${keys[@]}"; do
    json+="$sep"$'\n'"  \"$k\": \"$(json_escape "${v[$k]}")\""
    sep=","
  done
  printf '%s\n}\n' "$json" >"$STATE/second.json.tmp"
  mv "$STATE/second.json.tmp" "$STATE/second.json"
}

# --- commands --------------------------------------------------------------------------
up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it runs dockerd and sshd)"
  [ -s "$STATE/env" ] || die "run e2e/droplet/up.sh first (user $SSH_USER, keys, baseline image)"
  mkdir -p "$DIR"
  chmod 755 "$DIR" # core must reach its HOME below it
  start_dockerd2
  start_sshd2
  ensure_image2
  start_supervisor2
  write_json
  log "up: ssh -i $KEYS_DIR/id_ed25519 -o UserKnownHostsFile=$KNOWN_HOSTS2 -p $SECOND_SSH_PORT $SSH_USER@$LOOPBACK; app $APP_URL; env in $STATE/second.json"
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
  pid_alive "$SSHD2_PIDFILE" "$SSHD2_CONF" && log "stopping sshd 2"
  stop_pidfile "$SSHD2_PIDFILE" "$SSHD2_CONF"
  if pid_alive "$DOCKERD2_PIDFILE" "$DOCKERD2_ID"; then
    local pid
    pid="$(cat "$DOCKERD2_PIDFILE")"
    log "stopping dockerd 2 (pid $pid) and its containerd"
    kill -TERM "$pid"
    # dockerd stops its containers and its managed containerd, then removes its pidfile.
    wait_for 60 "dockerd 2 (pid $pid) to stop" "See $DIR/dockerd.log." pid_gone "$pid"
    rm -f "$DOCKERD2_PIDFILE"
  fi
  # A dockerd that was killed leaves its containerd behind.
  if pid_alive "$CONTAINERD2_PIDFILE" "$CONTAINERD2_ID"; then
    log "stopping the containerd dockerd 2 left behind"
    stop_pidfile "$CONTAINERD2_PIDFILE" "$CONTAINERD2_ID"
  fi
  log "down (data kept in $DATA_ROOT and $DIR)"
}

case "${1:-up}" in
  up) up ;;
  reset) reset ;;
  down) down ;;
  *) die "usage: second.sh up|reset|down" ;;
esac
