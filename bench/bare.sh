#!/usr/bin/env bash
# The remote scripts below are single-quoted on purpose: they expand on the host.
# shellcheck disable=SC2016
# The benchmark's bare peer (run "B-bare", the headline A/B-bare): the runbook
# (Deploying to Production, steps 2-7) as a careful user would script it, each step one ssh
# command over one multiplexed OpenSSH connection (ControlMaster), with only the fixes such a
# person adds: refuse a dirty tree, keep the image's ENTRYPOINT/CMD on `docker commit`, wait for
# the supervisor's respawn and for the app to answer. No deploy lock, no release retention, no
# history, no drift check, no rollback: what a user would write instead of the action.
# Joined where a thoughtful person would: removing a stale admin container with the `docker run`
# of the new one, `git fetch` with the fast-forward (the runbook's `git pull`), reading
# ENTRYPOINT/CMD with the `docker commit` that needs them. The waits poll every 0.1 s (respawn)
# and 0.2 s (the app), on the host: no round trip per attempt.
#
#   bench/bare.sh
#
# Settings come from the environment: HOST PORT USERNAME KEY_PATH KNOWN_HOSTS_PATH IMAGE REPO_PATH
# REF BRANCH BUILD_COMMAND HEALTH_COMMAND HEALTH_TIMEOUT RESPAWN_TIMEOUT.
# Each step prints `peer: begin` and `peer: step <name> <ms>` on stderr (as bench/peer.sh); the
# build's output goes to stdout. Each on_host below is one ssh command: one exec channel on the
# shared connection, what bench/RESULTS.md counts per step.
set -euo pipefail
exec </dev/null

BRANCH="${BRANCH:-master}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-15}"
RESPAWN_TIMEOUT="${RESPAWN_TIMEOUT:-30}"
LATEST="$IMAGE:latest"

now_ms() { date +%s%3N; }
t_step=0
# `peer: begin` and `peer: step` let bench/run.mjs attribute the host's sshd sessions to steps.
begin() {
  t_step="$(now_ms)"
  printf 'peer: begin\n' >&2
}
done_step() { printf 'peer: step %s %s\n' "$1" "$(($(now_ms) - t_step))" >&2; }
die() {
  printf 'bare: ERROR: %s\n' "$*" >&2
  exit 1
}
q() { printf '%q' "$1"; }

ctl_dir="$(mktemp -d /tmp/hermes-bare.XXXXXX)"
SSH=(ssh -F /dev/null -i "$KEY_PATH" -o IdentitiesOnly=yes -o BatchMode=yes
  -o UserKnownHostsFile="$KNOWN_HOSTS_PATH" -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=yes -o ConnectTimeout=30
  -o ControlMaster=auto -o ControlPath="$ctl_dir/%C" -o ControlPersist=120
  -p "$PORT" "$USERNAME@$HOST")
cleanup() {
  if [ -n "$ctl_dir" ]; then
    "${SSH[@]}" -O exit >/dev/null 2>&1 || true
    rm -rf "$ctl_dir"
  fi
}
trap cleanup EXIT
# on_host COMMAND: one ssh command (one exec channel on the shared connection).
on_host() { "${SSH[@]}" -- "$1"; }

# --- 2. gain access: one handshake, every ssh below is a channel on it ------------------------
begin
"${SSH[@]}" -f -N || die "could not connect to $USERNAME@$HOST:$PORT"
done_step connect

# --- 2. docker ps: the production container ------------------------------------------------------
begin
running="$(on_host "docker ps --filter ancestor=$(q "$LATEST") --format '{{.Names}}'")"
production="$(grep -v -- '-admin$' <<<"$running" || true)"
if [ -z "$production" ] || [ "$(wc -l <<<"$production")" != 1 ]; then
  die "not exactly one running container of $LATEST: ${running:-none}"
fi
admin="$production-admin"
done_step find

# --- 3. the admin container (a stale one from an earlier deploy removed first) -------------------
# On the host's network, as production (this droplet's dockerd has no bridge).
begin
on_host "docker rm -f $(q "$admin") >/dev/null 2>&1; docker run -d --name $(q "$admin") --network host --entrypoint tail $(q "$LATEST") -f /dev/null" >/dev/null
done_step admin

# --- 4. git diff: refuse a dirty tree ---------------------------------------------------------------
begin
dirty="$(on_host "docker exec -w $(q "$REPO_PATH") $(q "$admin") git status --porcelain --untracked-files=no")"
[ -z "$dirty" ] || die "uncommitted changes in the checkout: $dirty"
done_step check

# --- 4. git pull: the exact commit, fast-forward only -----------------------------------------------
begin
on_host "docker exec -w $(q "$REPO_PATH") $(q "$admin") sh -c $(q "git fetch -q origin $(q "$BRANCH") && git merge -q --ff-only $(q "$REF")")"
done_step update

# --- 5. build -------------------------------------------------------------------------------------------
begin
on_host "docker exec -w $(q "$REPO_PATH") $(q "$admin") sh -c $(q "$BUILD_COMMAND")"
done_step build

# --- 6. docker commit, keeping the image's ENTRYPOINT and CMD (the admin container runs `tail`) ------
COMMIT='
ep=$(docker image inspect -f "{{json .Config.Entrypoint}}" "$1") || exit 1
cmd=$(docker image inspect -f "{{json .Config.Cmd}}" "$1") || exit 1
[ "$ep" != null ] || { echo "$1 has no ENTRYPOINT: this script needs one" >&2; exit 1; }
[ "$cmd" != null ] || cmd="[]"
docker commit --change "ENTRYPOINT $ep" --change "CMD $cmd" "$2" "$1"
'
begin
released="$(on_host "sh -c $(q "$COMMIT") sh $(q "$LATEST") $(q "$admin")")"
[[ "$released" == sha256:* ]] || die "docker commit said: $released"
done_step commit

# --- 7. docker rm -f production; the supervisor respawns it from the new image -------------------
RESPAWN='
end=$(( $(date +%s) + $2 ))
until [ -n "$(docker ps -q --filter ancestor="$1")" ]; do
  [ "$(date +%s)" -lt "$end" ] || exit 1
  sleep 0.1
done
'
HEALTH='
end=$(( $(date +%s) + $2 ))
until sh -c "$1" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$end" ] || exit 1
  sleep 0.2
done
'
begin
on_host "docker rm -f $(q "$production")" >/dev/null
on_host "sh -c $(q "$RESPAWN") sh $(q "$released") $(q "$RESPAWN_TIMEOUT")" ||
  die "no container of $released within $RESPAWN_TIMEOUT s"
on_host "sh -c $(q "$HEALTH") sh $(q "$HEALTH_COMMAND") $(q "$HEALTH_TIMEOUT")" ||
  die "the app did not answer within $HEALTH_TIMEOUT s ($HEALTH_COMMAND)"
done_step replace

# --- 7. docker rm the admin container; 8. exit ------------------------------------------------------
begin
on_host "docker rm -f $(q "$admin")" >/dev/null
cleanup
ctl_dir=""
done_step close
echo "bare: deployed $REF as $released"
