#!/usr/bin/env bash
# The host-side scripts below are single-quoted on purpose: they expand on the host.
# shellcheck disable=SC2016
# The benchmark's fuller peer (run B): the same runbook steps as the action (src/deploy.ts), with
# the same docker and git commands (lock, health wait, checks), as a plain bash script.
#
#   bench/peer.sh --ssh     over OpenSSH, one multiplexed connection (ControlMaster), run B
#   bench/peer.sh --local   the same commands on the host itself, no SSH (as user core), run C
#
# Settings come from the environment: HOST PORT USERNAME KEY_PATH KNOWN_HOSTS_PATH (--ssh only),
# IMAGE REPO_PATH REF BRANCH BUILD_COMMAND HEALTH_COMMAND HEALTH_TIMEOUT RESPAWN_TIMEOUT.
# Each step prints `peer: begin` and `peer: step <name> <ms>` on stderr; the build's output goes
# to stdout. bench/bare.sh is the bare peer: the runbook's commands and nothing more.
set -euo pipefail

mode="${1:-}"
case "$mode" in
  --ssh | --local) ;;
  *)
    echo "usage: $0 --ssh|--local" >&2
    exit 2
    ;;
esac
command -v jq >/dev/null || {
  echo "peer: jq is required (apt-get install jq)" >&2
  exit 2
}

# Like the action's commands, none reads standard input unless given some.
exec </dev/null

IMAGE_NAME="$IMAGE:latest"
REPOSITORY="$IMAGE"
BRANCH="${BRANCH:-master}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-15}"
RESPAWN_TIMEOUT="${RESPAWN_TIMEOUT:-30}"

now_ms() { date +%s%3N; }
t_step=0
# `peer: begin` and `peer: step` let bench/run.mjs attribute the host's sshd sessions to steps.
begin() {
  t_step="$(now_ms)"
  printf 'peer: begin\n' >&2
}
done_step() { printf 'peer: step %s %s\n' "$1" "$(($(now_ms) - t_step))" >&2; }
die() {
  printf 'peer: ERROR: %s\n' "$*" >&2
  exit 1
}

# --- how a command reaches the host ------------------------------------------------------------
ctl_dir=""
SSH=()
if [ "$mode" = --ssh ]; then
  ctl_dir="$(mktemp -d /tmp/hermes-peer.XXXXXX)"
  SSH=(ssh -F /dev/null -i "$KEY_PATH" -o IdentitiesOnly=yes -o BatchMode=yes
    -o UserKnownHostsFile="$KNOWN_HOSTS_PATH" -o GlobalKnownHostsFile=/dev/null
    -o StrictHostKeyChecking=yes -o ConnectTimeout=30
    -o ControlMaster=auto -o ControlPath="$ctl_dir/%C" -o ControlPersist=120
    -o ServerAliveInterval=10 -p "$PORT" "$USERNAME@$HOST")
fi
cleanup() {
  if [ -n "$ctl_dir" ]; then
    "${SSH[@]}" -O exit >/dev/null 2>&1 || true
    rm -rf "$ctl_dir"
  fi
}
trap cleanup EXIT

# run ARGV...: run a command on the host (argv quoted once, as the action's toShell does).
run() {
  if [ "$mode" = --ssh ]; then
    "${SSH[@]}" -- "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

# --- the scripts the action runs on the host (src/lock.ts, src/docker.ts, src/git.ts) ----------
LOCK='
set -u
name=$1
dir="$HOME/.hermes-deploy/locks"
lock="$dir/$name"
mkdir -p "$dir" || exit 70
end=$(( $(date +%s) + $2 ))
alive() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
  args=$(tr "\000" "\n" <"/proc/$1/cmdline")
  printf "%s\n" "$args" | grep -qxF "$name" && printf "%s\n" "$args" | grep -qF ".hermes-deploy/locks"
}
last=
while ! mkdir "$lock" 2>/dev/null; do
  holder=$(cat "$lock/holder" 2>/dev/null)
  pid=$(cat "$lock/pid" 2>/dev/null)
  now=$(date +%s)
  beat=$(stat -c %Y "$lock/heartbeat" 2>/dev/null || stat -c %Y "$lock" 2>/dev/null || echo "$now")
  gone=
  if [ -n "$pid" ] && ! alive "$pid"; then
    gone="its process has ended"
  elif [ $(( now - beat )) -gt "$3" ]; then
    gone="no heartbeat for $(( now - beat )) s"
    if alive "$pid"; then kill "$pid" 2>/dev/null; fi
  fi
  if [ -n "$gone" ] && mv "$lock" "$lock.stale.$$" 2>/dev/null; then
    rm -rf "$lock.stale.$$"
    echo "takeover $gone: $holder"
    continue
  fi
  if [ "$holder" != "$last" ]; then echo "waiting $holder"; last=$holder; fi
  [ "$now" -lt "$end" ] || { echo "timeout $holder"; exit 75; }
  sleep 1
done
echo $$ >"$lock/pid"
printf "%s\n" "$4" >"$lock/holder"
touch "$lock/heartbeat"
echo acquired
while IFS= read -r line; do
  [ "$line" = release ] && break
  touch "$lock/heartbeat"
done
[ "$(cat "$lock/pid" 2>/dev/null)" = "$$" ] && rm -rf "$lock"
echo released
'

SURVEY='
if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not on the PATH of a non-interactive SSH session ($PATH)" >&2
  exit 127
fi
echo "#image"
docker image inspect --format "{{json .}}" "$1" 2>/dev/null || echo null
echo "#containers"
ids=$(docker ps -aq --no-trunc) || exit $?
[ -z "$ids" ] || docker inspect --format "{{json .}}" $ids 2>/dev/null || true
'

GIT='git -c safe.directory="$PWD"'

FETCH_AND_RELATE="
set -e
$GIT fetch --quiet origin \"+refs/heads/\$1:refs/remotes/origin/\$1\"
head=\$($GIT rev-parse --verify HEAD)
target=\$($GIT rev-parse --verify --quiet \"\$2^{commit}\" || true)
echo \"head=\$head\"
echo \"target=\$target\"
[ -n \"\$target\" ] || exit 0
relation() { if $GIT merge-base --is-ancestor \"\$1\" \"\$2\"; then echo yes; else echo no; fi; }
echo \"fast_forward=\$(relation \"\$head\" \"\$target\")\"
echo \"behind=\$(relation \"\$target\" \"\$head\")\"
echo \"on_branch=\$(relation \"\$target\" \"refs/remotes/origin/\$1\")\"
"

FAST_FORWARD="
set -e
old=\$($GIT rev-parse --verify HEAD)
$GIT merge --ff-only --quiet \"\$1\"
echo '#log'
$GIT log --oneline --no-decorate \"\$old..\$1\" | head -n 500
echo '#stat'
$GIT diff --stat \"\$old\" \"\$1\" | tail -n 300
"

WAIT_FOR_CONTAINER='
end=$(( $(date +%s) + $2 ))
pause=0.1
while :; do
  ids=$(docker ps -q --no-trunc)
  if [ -n "$ids" ]; then
    found=$(docker inspect --format "{{.Id}} {{.Image}} {{.Name}} {{.State.Running}}" $ids 2>/dev/null |
      awk -v image="$1" -v skip="/$3" "\$2 == image && \$3 != skip && \$4 == \"true\" { print \$1, substr(\$3, 2); exit }")
    if [ -n "$found" ]; then echo "$found"; exit 0; fi
  fi
  [ "$(date +%s)" -lt "$end" ] || exit 124
  sleep "$pause"
  case $pause in 0.1) pause=0.25 ;; 0.25) pause=0.5 ;; *) pause=1 ;; esac
done
'

HEALTH='
end=$(( $(date +%s) + $2 ))
attempt=0
pause=0.2
while :; do
  attempt=$((attempt + 1))
  left=$(( end - $(date +%s) ))
  [ "$left" -gt 0 ] || left=1
  if command -v timeout >/dev/null 2>&1; then
    out=$(timeout "$left" sh -c "$1" 2>&1) && ok=1 || ok=0
  else
    out=$(sh -c "$1" 2>&1) && ok=1 || ok=0
  fi
  if [ "$ok" = 1 ]; then echo "passed on attempt $attempt"; exit 0; fi
  if [ "$(date +%s)" -ge "$end" ]; then
    printf "%s\n" "$out" | tail -n 20
    echo "failed $attempt attempts in $2 s" >&2
    exit 1
  fi
  sleep "$pause"
  pause=1
done
'

# --- 1. connect (one handshake; every later ssh is a channel on it) ------------------------------
begin
if [ "$mode" = --ssh ]; then
  "${SSH[@]}" -f -N || die "could not connect to $USERNAME@$HOST:$PORT"
fi
done_step connect

# --- the deploy lock: a shell on the host that holds it while this script runs -----------------
begin
holder="{\"repository\":\"bench\",\"commit\":\"$REF\",\"since\":\"$(date -u +%FT%TZ)\"}"
lock_name="${REPOSITORY//[^A-Za-z0-9._-]/_}"
coproc LOCKER { run sh -c "$LOCK" sh "$lock_name" 600 60 "$holder" 2>&1; }
lock_in="${LOCKER[1]}"
while IFS= read -r line <&"${LOCKER[0]}"; do
  [ "$line" = acquired ] && break
done
[ "${line:-}" = acquired ] || die "could not take the deploy lock: ${line:-}"
done_step lock
release_lock() {
  { printf 'release\n' >&"$lock_in"; } 2>/dev/null || true
  eval "exec ${lock_in}>&-"
  wait "$LOCKER_PID" 2>/dev/null || true
}

# --- 2. find the production container --------------------------------------------------------------
begin
survey="$(run sh -c "$SURVEY" sh "$IMAGE_NAME")"
image_json="$(sed -n '/^#image$/,/^#containers$/p' <<<"$survey" | grep '^{' || true)"
[ -n "$image_json" ] || die "image $IMAGE_NAME is not on the host"
containers="$(sed -n '/^#containers$/,$p' <<<"$survey" | grep '^{' || true)"
image_id="$(jq -r .Id <<<"$image_json")"
production="$(jq -c --arg name "$IMAGE_NAME" --arg repo "$REPOSITORY" --arg id "$image_id" '
  select(.State.Running and (.Config.Image == $name or .Config.Image == $repo or .Image == $id))
  | select(.Name | endswith("-admin") | not)' <<<"$containers")"
[ "$(grep -c . <<<"$production")" = 1 ] || die "not exactly one running container of $IMAGE_NAME"
prod_id="$(jq -r .Id <<<"$production")"
prod_name="$(jq -r '.Name | ltrimstr("/")' <<<"$production")"
prod_image="$(jq -r .Image <<<"$production")"
network="$(jq -r .HostConfig.NetworkMode <<<"$production")"
admin="$prod_name-admin"
done_step find

# --- 3. what production runs -----------------------------------------------------------------------
begin
previous_commit="$(run docker exec --workdir "$REPO_PATH" "$prod_name" sh -c "$GIT rev-parse --verify HEAD")"
if [ "$prod_image" != "$image_id" ]; then
  image_json="$(run docker image inspect --format '{{json .}}' "$prod_image")"
fi
entrypoint="$(jq -c '.Config.Entrypoint // []' <<<"$image_json")"
cmd="$(jq -c '.Config.Cmd // []' <<<"$image_json")"
done_step read

# --- 4. the admin container ------------------------------------------------------------------------
begin
stale="$(jq -r --arg n "/$admin" 'select(.Name == $n) | .Id' <<<"$containers")"
[ -z "$stale" ] || run docker rm --force "$stale" >/dev/null
admin_run=(docker run --detach --name "$admin")
[ "$network" = default ] || admin_run+=(--network "$network")
if [ "$entrypoint" != '[]' ]; then
  admin_run+=(--entrypoint tail "$prod_image" -f /dev/null)
else
  admin_run+=("$prod_image" tail -f /dev/null)
fi
run "${admin_run[@]}" >/dev/null
done_step admin

# Production's own variables (beyond the image's) reach git and the build as an env-file on stdin.
env_file="$(jq -r --argjson image "$(jq -c '.Config.Env // []' <<<"$image_json")" \
  '.Config.Env // [] | map(select(. as $e | $image | any(. == $e) | not)) | .[]' <<<"$production")"
in_admin() { run docker exec --workdir "$REPO_PATH" --env-file /dev/stdin "$admin" "$@" <<<"$env_file"; }

# --- 5. the checkout has no local changes --------------------------------------------------------
begin
changed="$(in_admin sh -c "$GIT status --porcelain --untracked-files=no")"
[ -z "$changed" ] || die "uncommitted changes in the checkout: $changed"
done_step check

# --- 6. fetch and fast-forward to the commit ------------------------------------------------------
begin
relation="$(in_admin sh -c "$FETCH_AND_RELATE" sh "$BRANCH" "$REF")"
grep -qx "target=$REF" <<<"$relation" || die "commit $REF not found on origin/$BRANCH"
grep -qx 'fast_forward=yes' <<<"$relation" || die "not a fast-forward from $previous_commit"
in_admin sh -c "$FAST_FORWARD" sh "$REF" >/dev/null
done_step update

# --- 7. build ----------------------------------------------------------------------------------------
begin
in_admin sh -c "$BUILD_COMMAND"
done_step build

# --- 8. commit the release, the previous image kept for a rollback ---------------------------------
begin
run docker tag "$prod_image" "$REPOSITORY:hermes-previous"
commit_args=(docker commit)
[ "$entrypoint" = '[]' ] || commit_args+=(--change "ENTRYPOINT $entrypoint")
commit_args+=(--change "CMD $cmd" --message "hermes-peer $REF" "$admin" "$IMAGE_NAME")
released="$(run "${commit_args[@]}")"
new_json="$(run docker image inspect --format '{{json .}}' "$released")"
fields='.Config | [.Entrypoint, .Cmd, .Env, .WorkingDir, .User, .ExposedPorts, .Labels, .Volumes, .StopSignal, .Healthcheck]'
if [ "$(jq -c "$fields" <<<"$image_json")" != "$(jq -c "$fields" <<<"$new_json")" ]; then
  run docker tag "$prod_image" "$IMAGE_NAME"
  die "the committed image's config drifted; $IMAGE_NAME put back"
fi
released_id="$(jq -r .Id <<<"$new_json")"
done_step commit
run docker rm --force "$admin" >/dev/null

# --- 9. replace production: the supervisor respawns it from the new image -------------------------
begin
run docker rm --force "$prod_id" >/dev/null
run sh -c "$WAIT_FOR_CONTAINER" sh "$released_id" "$RESPAWN_TIMEOUT" "$admin" >/dev/null ||
  die "no container of $released_id started"
if [ -n "${HEALTH_COMMAND:-}" ]; then
  run sh -c "$HEALTH" sh "$HEALTH_COMMAND" "$HEALTH_TIMEOUT" >/dev/null || die "health check failed"
fi
done_step replace

# --- 10. release the lock, close the connection ------------------------------------------------------
begin
release_lock
cleanup
ctl_dir=""
done_step close
echo "peer: deployed $REF (was $previous_commit) as $released_id"
