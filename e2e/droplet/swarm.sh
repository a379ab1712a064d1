#!/usr/bin/env bash
# A third Docker host on this machine, beside the local droplet (up.sh) and the second host
# (second.sh), for the tests of Swarm support: production there is a Swarm service whose image
# comes from a registry.
#  - its own dockerd (data in /var/lib/hermes-docker-swarm, socket /run/hermes-docker-swarm.sock,
#    its own managed containerd under /run/hermes-docker-swarm), no bridge, no iptables, and a
#    single-node swarm that listens on 127.0.0.1 only (without its routing mesh, whose VXLAN
#    port would listen on every address);
#  - a registry (docker-registry) on 127.0.0.1:5000 with a login (user `deployer`), its config,
#    password and data under $STATE/swarm (never /etc/docker/registry);
#  - its own sshd on 127.0.0.1:2252 for `core` whose sessions get DOCKER_HOST=this engine and a
#    HOME of their own (as on the second host);
#  - the first engine's baseline image, same ID, pushed as 127.0.0.1:5000/texasca/api:baseline
#    and run, pinned by digest, as the service texasca-api (host network, health check, rollback
#    on a failed update), app on http://127.0.0.1:18082/.
# `swarm.sh up` (idempotent, about a second when up) writes $STATE/swarm.json; `reset` puts the
# swarm host back to its baseline (a few seconds); `down` stops it all and keeps the data.
# The first engine is only ever read (`docker save` of its baseline image).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
# shellcheck source-path=SCRIPTDIR source=engine.sh
. "$HERE/engine.sh"

DIR="$STATE/swarm"
SWARM_SSH_PORT="${HERMES_SWARM_SSH_PORT:-2252}"
SWARM_APP_PORT="${HERMES_SWARM_APP_PORT:-18082}"
REGISTRY_PORT="${HERMES_REGISTRY_PORT:-5000}"
DATA_ROOT=/var/lib/hermes-docker-swarm
SWARM_DOCKER_HOST=unix:///run/hermes-docker-swarm.sock
SWARM_HOME="$DIR/home"
SERVICE="$CONTAINER"
REGISTRY="$LOOPBACK:$REGISTRY_PORT"
REPO="$REGISTRY/$IMAGE"
REGISTRY_USER=deployer
REGISTRY_CONF="$DIR/registry.yml"
REGISTRY_PIDFILE="$DIR/registry.pid"
# lib.sh's app_ok/app_serves read APP_URL: here it is the swarm host's app.
APP_URL="http://$LOOPBACK:$SWARM_APP_PORT/"
# The service's own health check, run inside the task container (the image has busybox).
SERVICE_HEALTH="busybox wget -q -O /dev/null $APP_URL"
# Swarm's ports: control, gossip, data path (VXLAN).
SWARM_PORTS=(2377/tcp 7946/tcp 7946/udp 4789/udp)

# What engine.sh makes: dockerd 3 and sshd 3.
E_DIR="$DIR"
E_LABEL=3
E_ENGINE="swarm engine"
E_HOST_NAME="the swarm Docker host"
E_SCRIPT=swarm.sh
E_DATA_ROOT="$DATA_ROOT"
E_EXEC_ROOT=/run/hermes-docker-swarm
E_DOCKER_HOST="$SWARM_DOCKER_HOST"
E_CONTAINERD_NS=hermes-swarm
E_CGROUP_PARENT=hermes-swarm
E_SSH_PORT="$SWARM_SSH_PORT"
E_SSH_PORT_VAR=HERMES_SWARM_SSH_PORT
E_HOME="$SWARM_HOME"
E_KEY_COMMENT=hermes-swarm-host

log() { printf 'swarm: %s\n' "$*"; }
die() { printf 'swarm: ERROR: %s\n' "$*" >&2; exit 1; }

# Every plain `docker` below, and in lib.sh's helpers, talks to the SWARM engine, and logs in
# to the registry with a client config of its own (never root's ~/.docker).
export DOCKER_HOST="$SWARM_DOCKER_HOST"
export DOCKER_CONFIG="$DIR/docker-config"

# beyond_loopback tcp|udp PORT: the local addresses listening on PORT that are not 127.0.0.1.
beyond_loopback() {
  ss -Hln --"$1" "sport = :$2" | awk -v lo="$LOOPBACK:$2" '$4 != lo { print $4 }'
}

# --- registry ----------------------------------------------------------------------------
registry_password() { cat "$DIR/registry_password"; }

# registry_status: the HTTP status of /v2/ without credentials (401 when ours is up).
registry_status() {
  curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$REGISTRY/v2/" 2>/dev/null || true
}

# registry_digest REFERENCE: the digest the registry serves for $IMAGE:REFERENCE (a tag or a
# digest), or nothing. Credentials go to curl on stdin, never on a command line.
registry_digest() {
  printf 'user = "%s"\n' "$(json_escape "$REGISTRY_USER:$(registry_password)")" |
    curl -fsS -I --max-time 5 -K - \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "http://$REGISTRY/v2/$IMAGE/manifests/$1" 2>/dev/null |
    tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }' || true
}

start_registry() {
  local cmd
  for cmd in docker-registry htpasswd; do
    command -v "$cmd" >/dev/null || die "'$cmd' not found; run scripts/install-deps.sh"
  done
  # One password for the life of the state dir, with a space and quotes in it, so the tests
  # catch a login that mangles one.
  if [ ! -s "$DIR/registry_password" ]; then
    (
      umask 077
      printf "it's \"%s\" ok" "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >"$DIR/registry_password"
    )
  fi
  local changed=0
  if ! registry_password | htpasswd -vi "$DIR/htpasswd" "$REGISTRY_USER" >/dev/null 2>&1; then
    registry_password | htpasswd -nBi "$REGISTRY_USER" >"$DIR/htpasswd.new" ||
      die "htpasswd could not hash the registry password ($DIR/registry_password)"
    mv "$DIR/htpasswd.new" "$DIR/htpasswd"
    changed=1
  fi
  mkdir -p "$DIR/registry-data"
  cat >"$REGISTRY_CONF.new" <<CONF
# The swarm host's registry (not Debian's /etc/docker/registry one). Written by swarm.sh.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "$DIR/registry-data"
  delete:
    enabled: true
http:
  addr: "$REGISTRY"
auth:
  htpasswd:
    realm: hermes
    path: "$DIR/htpasswd"
CONF
  replace_if_changed "$REGISTRY_CONF" && changed=1
  if pid_alive "$REGISTRY_PIDFILE" "$REGISTRY_CONF" && [ "$changed" = 1 ]; then
    log "registry config or password changed, restarting the registry"
    stop_pidfile "$REGISTRY_PIDFILE" "$REGISTRY_CONF"
  fi
  if ! pid_alive "$REGISTRY_PIDFILE" "$REGISTRY_CONF"; then
    port_open "$REGISTRY_PORT" &&
      die "port $REGISTRY_PORT is already taken by another process (not our registry; Debian's docker-registry service?); free it or set HERMES_REGISTRY_PORT"
    log "starting the registry on $REGISTRY (log: $DIR/registry.log)"
    # env -i: REGISTRY_* variables override the config file (REGISTRY_HTTP_ADDR could move it
    # off loopback). Its own session, so nothing of ours waits on it.
    env -i PATH="$PATH" setsid docker-registry serve "$REGISTRY_CONF" \
      </dev/null >>"$DIR/registry.log" 2>&1 &
    printf '%s\n' "$!" >"$REGISTRY_PIDFILE"
  fi
  registry_up() {
    [ "$(registry_status)" = 401 ] && return 0
    pid_alive "$REGISTRY_PIDFILE" "$REGISTRY_CONF" ||
      { tail_log "$DIR/registry.log"; die "the registry exited; see $DIR/registry.log (tail above)"; }
    return 1
  }
  wait_for 15 "the registry to ask for a login at http://$REGISTRY/v2/ (HTTP 401)" \
    "See $DIR/registry.log; 'curl -i http://$REGISTRY/v2/' shows what answers." registry_up
  local beyond
  beyond="$(beyond_loopback tcp "$REGISTRY_PORT")"
  [ -z "$beyond" ] || die "something listens on port $REGISTRY_PORT beyond loopback ($beyond); check 'ss -ltnp'"
}

# registry_login: this script's docker client logged in (once per run); the password on stdin.
registry_login() {
  [ -z "${LOGGED_IN:-}" ] || return 0
  local out
  mkdir -p "$DOCKER_CONFIG"
  chmod 700 "$DOCKER_CONFIG"
  out="$(registry_password | docker login --username "$REGISTRY_USER" --password-stdin "$REGISTRY" 2>&1)" ||
    die "docker login $REGISTRY as $REGISTRY_USER failed: $out (see $DIR/registry.log)"
  LOGGED_IN=1
}

# --- swarm -------------------------------------------------------------------------------
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }
swarm_settled() { [ "$(swarm_state)" != pending ]; }

ensure_swarm() {
  # A restarted dockerd rejoins its swarm a moment after it answers.
  wait_for 30 "dockerd 3 to rejoin its swarm (state pending)" "See $DIR/dockerd.log." swarm_settled
  local state p
  state="$(swarm_state)"
  case "$state" in
    active) ;;
    inactive)
      for p in "${SWARM_PORTS[@]}"; do
        [ "${p#*/}" = tcp ] && port_open "${p%/*}" &&
          die "port ${p%/*} is taken (another swarm manager on this machine?); check 'ss -ltnp'"
      done
      log "creating a single-node swarm on $LOOPBACK"
      # Control, gossip and data path all on loopback, so no swarm port faces a network.
      docker swarm init --advertise-addr "$LOOPBACK" --listen-addr "$LOOPBACK:2377" \
        --data-path-addr "$LOOPBACK" >/dev/null || die "docker swarm init failed; see $DIR/dockerd.log"
      ;;
    *) die "the swarm engine's node is '$state', not active; see $DIR/dockerd.log (or 'docker swarm leave --force' and swarm.sh up)" ;;
  esac
  # Swarm also makes its routing mesh: the overlay network `ingress`, whose VXLAN port (4789/udp)
  # the kernel opens on every address whatever --data-path-addr says, and the bridge
  # docker_gwbridge its sandbox hangs on. Services here use the host's network and publish no
  # ports through the mesh: both go. (Swarm does not make them again on a restart.)
  [ "$state" = active ] || wait_for 10 "Swarm to create its ingress network" "See $DIR/dockerd.log." network_exists ingress
  if network_exists ingress; then
    log "removing Swarm's routing mesh (network ingress): its VXLAN port listens on every address"
    echo y | docker network rm ingress >/dev/null || die "docker network rm ingress failed; see $DIR/dockerd.log"
  fi
  if network_exists docker_gwbridge; then
    # Free once the mesh's sandbox is gone.
    wait_for 10 "docker network rm docker_gwbridge to succeed" \
      "See 'DOCKER_HOST=$SWARM_DOCKER_HOST docker network inspect docker_gwbridge' and $DIR/dockerd.log." \
      remove_network docker_gwbridge
  fi
  # dockerd leaves the Linux bridge itself (with 172.18.0.1/16) behind; delete it once nothing
  # hangs on it.
  if [ -d /sys/class/net/docker_gwbridge/brif ] && [ -z "$(ls /sys/class/net/docker_gwbridge/brif)" ] &&
    ! network_exists docker_gwbridge; then
    log "deleting the bridge docker_gwbridge dockerd left behind"
    ip link delete docker_gwbridge || die "could not delete the bridge docker_gwbridge; see 'ip link show docker_gwbridge'"
  fi
  wait_for 10 "Swarm's ports (${SWARM_PORTS[*]}) to listen on $LOOPBACK only" \
    "Check 'ss -ltunp' and 'DOCKER_HOST=$SWARM_DOCKER_HOST docker network ls'." swarm_on_loopback
}

network_exists() { docker network inspect "$1" >/dev/null 2>&1; }
remove_network() { docker network rm "$1" >/dev/null 2>&1 || ! network_exists "$1"; }

swarm_on_loopback() {
  local p
  for p in "${SWARM_PORTS[@]}"; do
    [ -z "$(beyond_loopback "${p#*/}" "${p%/*}")" ] || return 1
  done
}

# --- baseline ----------------------------------------------------------------------------
# The first engine's baseline, same ID (engine.sh), in the registry as $REPO:baseline; the
# reference the service runs, pinned by digest, in $DIR/baseline_ref.
ensure_baseline() {
  engine_copy_baseline
  docker tag "$E_BASELINE" "$REPO:baseline"
  local ref="" digest
  [ -s "$DIR/baseline_ref" ] && ref="$(cat "$DIR/baseline_ref")"
  digest="$(registry_digest baseline)"
  if [ "$E_OLD_BASELINE" = "$E_BASELINE" ] && [ -n "$digest" ] && [ "$ref" = "$REPO:baseline@$digest" ]; then
    return
  fi
  push_baseline
  if [ -n "$E_OLD_BASELINE" ] && [ "$E_OLD_BASELINE" != "$E_BASELINE" ] && service_exists; then
    # A service still running an old baseline must be created again from the new one.
    log "new baseline: removing $SERVICE to create it from $E_BASELINE"
    remove_service
  fi
  printf '%s\n' "$E_BASELINE" >"$DIR/baseline_image"
}

# push_baseline: $REPO:baseline into the registry (again, if a test pushed over it), and its
# digest recorded.
push_baseline() {
  local digest
  registry_login
  log "pushing $REPO:baseline ($(docker image inspect --format '{{.Id}}' "$REPO:baseline"))"
  docker push --quiet "$REPO:baseline" >/dev/null ||
    die "docker push $REPO:baseline failed; see $DIR/registry.log and $DIR/dockerd.log"
  digest="$(registry_digest baseline)"
  [ -n "$digest" ] || die "the registry has no $IMAGE:baseline after the push; see $DIR/registry.log"
  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$REPO:baseline" | grep -qxF "$REPO@$digest" ||
    die "the registry's $IMAGE:baseline ($digest) is not among the repo digests of the image pushed; see $DIR/registry.log"
  printf '%s\n' "$REPO:baseline@$digest" >"$DIR/baseline_ref"
}

# --- service -----------------------------------------------------------------------------
service_exists() { docker service inspect "$SERVICE" >/dev/null 2>&1; }

task_containers() { docker ps -aq --filter "label=com.docker.swarm.service.name=$SERVICE"; }
no_task_containers() { [ -z "$(task_containers)" ]; }

# remove_service: the service and its task containers. The app (PID 1) ignores SIGTERM: remove
# the containers at once rather than wait out Swarm's 10 s stop grace period.
remove_service() {
  docker service rm "$SERVICE" >/dev/null 2>&1 || true
  task_containers | xargs -r docker rm -f >/dev/null 2>&1 || true
  wait_for 30 "the task containers of $SERVICE to go" \
    "See 'DOCKER_HOST=$SWARM_DOCKER_HOST docker ps -a' and $DIR/dockerd.log." no_task_containers
}

# create_service: production as the tests expect it, on the recorded baseline. --detach: the
# callers wait for the app themselves, without the CLI's 5 s "verify" pause.
create_service() {
  registry_login
  # busybox httpd ignores SIGTERM: a short grace period keeps each stop-first update quick.
  docker service create --detach --quiet --name "$SERVICE" --network host --with-registry-auth \
    -e RUNTIME_SECRET=from-swarm -e DROPLET_NAME=swarm \
    --health-cmd "$SERVICE_HEALTH" --health-interval 1s --health-timeout 2s --health-retries 3 \
    --health-start-period 5s \
    --stop-grace-period 2s \
    --update-monitor 5s --update-failure-action rollback --update-order stop-first \
    --rollback-order stop-first --rollback-monitor 3s \
    "$(cat "$DIR/baseline_ref")" --port "$SWARM_APP_PORT" >/dev/null ||
    die "docker service create $SERVICE failed (message above); see $DIR/dockerd.log"
}

# task_running: the service's task is up and healthy (Swarm reports it Running only then).
task_running() {
  docker service ps "$SERVICE" --filter desired-state=running --format '{{.CurrentState}}' 2>/dev/null |
    grep -q '^Running'
}

ensure_service() {
  if ! service_exists; then
    port_open "$SWARM_APP_PORT" && no_task_containers &&
      die "port $SWARM_APP_PORT is taken by something other than the swarm host's $SERVICE; free it or set HERMES_SWARM_APP_PORT"
    log "creating the service $SERVICE from $(cat "$DIR/baseline_ref")"
    create_service
  fi
  swarm_app_up() { app_ok && task_running; }
  wait_for 60 "the swarm host's app at $APP_URL" \
    "Check 'DOCKER_HOST=$SWARM_DOCKER_HOST docker service ps --no-trunc $SERVICE' and $DIR/dockerd.log; if a test left a broken service, run swarm.sh reset." swarm_app_up
}

# --- swarm.json --------------------------------------------------------------------------
write_json() {
  write_json_file "$STATE/swarm.json" \
    HOST "$LOOPBACK" PORT "$SWARM_SSH_PORT" USERNAME "$SSH_USER" \
    HOST_FINGERPRINT "$(cat "$DIR/host_fingerprint")" \
    KNOWN_HOSTS "$(cat "$DIR/known_hosts")" KNOWN_HOSTS_PATH "$DIR/known_hosts" \
    DOCKER_HOST "$SWARM_DOCKER_HOST" APP_URL "$APP_URL" \
    HEALTH_COMMAND "curl -fsS --max-time 5 $APP_URL >/dev/null" \
    IMAGE "$IMAGE" SERVICE "$SERVICE" \
    REGISTRY "$REGISTRY" REGISTRY_USERNAME "$REGISTRY_USER" REGISTRY_PASSWORD "$(registry_password)" \
    BASELINE_IMAGE "$(cat "$DIR/baseline_image")" BASELINE_REF "$(cat "$DIR/baseline_ref")" \
    BASELINE_COMMIT "$(cat "$DIR/baseline_commit")" \
    HOME_DIR "$SWARM_HOME" STATE_DIR "$DIR"
}

# --- commands ----------------------------------------------------------------------------
up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it runs dockerd, sshd and a registry)"
  [ -s "$STATE/env" ] || die "run e2e/droplet/up.sh first (user $SSH_USER, keys, baseline image)"
  command -v ss >/dev/null || die "'ss' not found; run scripts/install-deps.sh"
  mkdir -p "$DIR"
  chmod 755 "$DIR" # core must reach its HOME below it
  start_registry
  engine_start_dockerd
  ensure_swarm
  engine_start_sshd
  ensure_baseline
  ensure_service
  write_json
  log "up: ssh -i $KEYS_DIR/id_ed25519 -o UserKnownHostsFile=$DIR/known_hosts -p $SWARM_SSH_PORT $SSH_USER@$LOOPBACK; app $APP_URL; registry $REGISTRY; env in $STATE/swarm.json"
}

# no_containers: the engine has none; otherwise they are removed (a task may have been starting
# while its service went) and it is asked again. Removed, not stopped: see remove_service.
no_containers() {
  local ids
  ids="$(docker ps -aq)"
  [ -z "$ids" ] && return 0
  xargs docker rm -f <<<"$ids" >/dev/null 2>&1 || true
  return 1
}

# extra_refs BASELINE_REF: the tags, and references by digest (what Swarm pulled), of $IMAGE and
# $REPO that are not the baseline's.
extra_refs() {
  local repo tag dgst
  for repo in "$IMAGE" "$REPO"; do
    docker image ls --digests --format '{{.Tag}} {{.Digest}}' "$repo" | while read -r tag dgst; do
      if [ "$tag" != "<none>" ]; then
        [ "$repo:$tag" = "$REPO:baseline" ] || printf '%s\n' "$repo:$tag"
      elif [ "$dgst" != "<none>" ] && [ "$repo:baseline@$dgst" != "$1" ]; then
        printf '%s\n' "$repo@$dgst"
      fi
    done
  done | sort -u
}

reset() {
  if [ ! -s "$DIR/baseline_image" ] || [ ! -s "$DIR/baseline_ref" ] || [ ! -s "$DIR/baseline_commit" ]; then
    die "no baseline recorded in $DIR; run swarm.sh up first"
  fi
  docker_ok || die "dockerd 3 does not answer on $SWARM_DOCKER_HOST; run swarm.sh up first"
  [ "$(swarm_state)" = active ] || die "the swarm engine is not in an active swarm; run swarm.sh up first"
  [ "$(registry_status)" = 401 ] || die "the registry does not answer at http://$REGISTRY/v2/; run swarm.sh up first"
  pid_alive "$DIR/sshd.pid" "$DIR/sshd_config" || die "sshd 3 is not running; run swarm.sh up first"
  local baseline ref commit digest
  local -a refs
  baseline="$(cat "$DIR/baseline_image")"
  ref="$(cat "$DIR/baseline_ref")"
  commit="$(cat "$DIR/baseline_commit")"
  image_exists "$baseline" ||
    die "baseline image $baseline is gone from the swarm engine; remove $DIR/baseline_image and run swarm.sh up"

  # A new service, not an update of the old one: no update or rollback state survives a test.
  # The whole engine is this host's: every service and every container goes.
  docker service ls -q | xargs -r docker service rm >/dev/null
  wait_for 30 "the swarm engine's containers to go" \
    "See 'DOCKER_HOST=$SWARM_DOCKER_HOST docker ps -a' and $DIR/dockerd.log." no_containers

  docker tag "$baseline" "$REPO:baseline"
  docker tag "$baseline" "$BASELINE_TAG"
  # Only the baseline stays in the production repositories. Removing a tag can take digest
  # references with it, so a failed rmi is only an error if the reference is still there.
  mapfile -t refs < <(extra_refs "$ref")
  if [ "${#refs[@]}" -gt 0 ]; then
    docker rmi "${refs[@]}" >/dev/null 2>&1 || true
    mapfile -t refs < <(extra_refs "$ref")
    [ "${#refs[@]}" -eq 0 ] || die "could not remove ${refs[*]} from the swarm engine; try 'DOCKER_HOST=$SWARM_DOCKER_HOST docker rmi ${refs[*]}'"
  fi
  docker image prune -f >/dev/null

  # A test may have pushed over the registry's :baseline.
  digest="$(registry_digest baseline)"
  if [ "$REPO:baseline@$digest" != "$ref" ]; then
    push_baseline
    ref="$(cat "$DIR/baseline_ref")"
  fi

  create_service
  baseline_up() { app_serves "$commit" && task_running; }
  wait_for 30 "the swarm host's app to serve the baseline commit $commit at $APP_URL" \
    "Check 'DOCKER_HOST=$SWARM_DOCKER_HOST docker service ps --no-trunc $SERVICE' and $DIR/dockerd.log." baseline_up
  log "reset to baseline $commit ($ref)"
}

down() {
  if docker_ok; then
    # dockerd would give the app (PID 1, ignores SIGTERM) its 10 s grace period; Swarm waits
    # its restart delay (5 s) before a replacement, and by then dockerd is gone.
    docker ps -q | xargs -r docker kill >/dev/null 2>&1 || true
  fi
  engine_stop_dockerd
  engine_stop_sshd
  pid_alive "$REGISTRY_PIDFILE" "$REGISTRY_CONF" && log "stopping the registry"
  stop_pidfile "$REGISTRY_PIDFILE" "$REGISTRY_CONF"
  log "down (data kept in $DATA_ROOT and $DIR)"
}

case "${1:-up}" in
  up) up ;;
  reset) reset ;;
  down) down ;;
  *) die "usage: swarm.sh up|reset|down" ;;
esac
