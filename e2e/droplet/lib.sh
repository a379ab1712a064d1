# shellcheck shell=bash
# Shared settings and helpers for the local droplet scripts (sourced, not run).
# The variables are used by the scripts that source this file.
# shellcheck disable=SC2034

STATE="${HERMES_DROPLET_STATE:-/tmp/hermes-droplet}"
CACHE="${HERMES_DROPLET_CACHE:-/var/cache/hermes-droplet}"
SSH_PORT="${HERMES_DROPLET_SSH_PORT:-2222}"
GIT_PORT="${HERMES_DROPLET_GIT_PORT:-9418}"
APP_PORT="${HERMES_DROPLET_APP_PORT:-18080}"
IMAGE="${HERMES_DROPLET_IMAGE:-texasca/api}"
CONTAINER="${HERMES_DROPLET_CONTAINER:-texasca-api}"
RESTART_DELAY="${HERMES_DROPLET_RESTART_DELAY:-1}"
SSH_USER=core
LOOPBACK=127.0.0.1
APP_URL="http://${LOOPBACK}:${APP_PORT}/"
# Caddy in front of the app, as on most droplets: the proxy's port and its admin API's.
PROXY_PORT="${HERMES_DROPLET_PROXY_PORT:-18000}"
CADDY_ADMIN_PORT="${HERMES_DROPLET_CADDY_ADMIN_PORT:-2019}"
PROXY_URL="http://${LOOPBACK}:${PROXY_PORT}/"
CADDY_ADMIN="http://${LOOPBACK}:${CADDY_ADMIN_PORT}"
ORIGIN_URL="git://${LOOPBACK}:${GIT_PORT}/app.git"
# Per production image: a second instance (another HERMES_DROPLET_IMAGE) keeps its own.
if [ "$IMAGE" = texasca/api ]; then
  BASELINE_TAG=hermes-e2e/baseline:api
else
  BASELINE_TAG="hermes-e2e/baseline:$(printf '%s' "$IMAGE" | tr -c 'A-Za-z0-9_.-' '-')"
fi
# The container up.sh builds the production image in; per instance, like CONTAINER.
if [ "$CONTAINER" = texasca-api ]; then
  BUILDER=hermes-e2e-build
else
  BUILDER="$CONTAINER-build"
fi
KEY_PASSPHRASE='correct horse battery staple'

ORIGIN_DIR="$STATE/origin/app.git"
WORK_DIR="$STATE/work/app"
KEYS_DIR="$STATE/keys"
SSHD_DIR="$STATE/sshd"
DOCKERD_PIDFILE="$STATE/dockerd.pid"
GITD_PIDFILE="$STATE/git-daemon.pid"
SUPERVISOR_PIDFILE="$STATE/supervisor.pid"
CADDY_DIR="$STATE/caddy"
CADDY_PIDFILE="$CADDY_DIR/caddy.pid"
SSHD_PIDFILE="$SSHD_DIR/sshd.pid"
# What our processes' command lines contain (checked before signalling a pid).
SSHD_ID="$SSHD_DIR/sshd_config"
GITD_ID="--base-path=$STATE/origin"
SUPERVISOR_ID=supervisor.sh
CADDY_ID="$CADDY_DIR/Caddyfile"
DOCKERD_ID="--pidfile $DOCKERD_PIDFILE"

log() { printf 'droplet: %s\n' "$*"; }
die() { printf 'droplet: ERROR: %s\n' "$*" >&2; exit 1; }

# pid_alive PIDFILE WORD: the pid in PIDFILE is running and its command line
# mentions WORD (so a recycled pid is never mistaken for ours).
pid_alive() {
  local pid
  # The process may remove its pidfile at any moment while it shuts down.
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# stop_pidfile PIDFILE WORD [GROUP]: TERM the process (or its whole process
# group when GROUP=group), wait up to 10 s, then KILL. Only ever touches a pid
# we recorded ourselves.
stop_pidfile() {
  local pidfile="$1" word="$2" group="${3:-}" pid target i
  if pid_alive "$pidfile" "$word"; then
    pid="$(cat "$pidfile")"
    target="$pid"
    [ "$group" = group ] && target="-$pid"
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_alive "$pidfile" "$word" || break
      sleep 0.1
    done
    if pid_alive "$pidfile" "$word"; then
      kill -KILL -- "$target" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidfile"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (: <"/dev/tcp/$LOOPBACK/$1") 2>/dev/null; }

# wait_for SECONDS WHAT HINT CMD...: poll CMD every 0.1 s; on timeout fail
# with WHAT and a hint that says where to look next.
wait_for() {
  local secs="$1" what="$2" hint="$3" deadline
  shift 3
  deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "timed out after ${secs}s waiting for ${what}. ${hint}"
    fi
    sleep 0.1
  done
}

docker_ok() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

app_ok() { curl -fsS --max-time 2 -o /dev/null "$APP_URL" 2>/dev/null; }

# app_serves COMMIT: the production app answers and was built from COMMIT.
app_serves() { curl -fsS --max-time 2 "$APP_URL" 2>/dev/null | grep -qx "commit=$1"; }

# own_containers: IDs of this instance's containers, and only those (another
# instance may share the docker daemon): the production container, names
# starting with "$CONTAINER-" (admin, canary, ...), the builder, and containers
# of the production image (by name, or by the ID of one of its tags or of the
# baseline).
own_containers() {
  local id name ref image
  local -A ours=()
  while read -r id; do
    [ -n "$id" ] && ours[$id]=1
  done < <(docker image ls --no-trunc -q "$IMAGE" 2>/dev/null; cat "$STATE/baseline_image" 2>/dev/null)
  # A container can vanish between ps and inspect: inspect the rest.
  docker ps -aq --no-trunc | xargs -r docker inspect --format '{{.Id}} {{.Name}} {{.Config.Image}} {{.Image}}' 2>/dev/null |
    while read -r id name ref image; do
      name="${name#/}"
      if [ "$name" = "$CONTAINER" ] || [[ "$name" == "$CONTAINER"-* ]] || [ "$name" = "$BUILDER" ] ||
        [ "$ref" = "$IMAGE" ] || [[ "$ref" == "$IMAGE":* || "$ref" == "$IMAGE"@* ]] || [ -n "${ours[$image]:-}" ]; then
        printf '%s\n' "$id"
      fi
    done
  return 0
}

# replace_if_changed FILE: move FILE.new over FILE when they differ (status 0: it changed), else
# drop FILE.new (status 1). Config files are written as FILE.new first, so a daemon is restarted
# only when its config really changed.
replace_if_changed() {
  if cmp -s "$1.new" "$1"; then
    rm -f "$1.new"
    return 1
  fi
  mv "$1.new" "$1"
}

# tail_log FILE: last lines of a log, for error messages.
tail_log() { [ -f "$1" ] && tail -n 20 "$1" | sed 's/^/    | /' >&2; return 0; }
