#!/bin/sh
# Hold deploy lock $1 (wait $2 s for it) while stdin sends heartbeats, stale after $3 s; $4: holder; $5 (base64 sh) runs once it is held, printed as `then <base64>`; `after <base64 sh>` lines run on release, detached, still holding it.
set -u
name=$1 stale=$3 holder=$4
end=$(( $(date +%s) + $2 ))
umask 007
command -v flock >/dev/null || { echo 'flock (util-linux) is not installed on the host' >&2; exit 70; }
# Make a shared lock directory unless it exists: group docker and setgid where this user can give
# it that group, else world-writable and sticky like /tmp. Made under a temporary name and renamed
# into place, so that no one uses it before it has its group and mode.
shared() {
  if [ ! -d "$1" ]; then
    mkdir -p "${1%/*}" 2>/dev/null
    mkdir "$1.$$" 2>/dev/null || return 1
    if chgrp docker "$1.$$" 2>/dev/null; then chmod 2770 "$1.$$"; else chmod 1777 "$1.$$"; fi
    # When another run made it meanwhile, this moves ours into theirs: remove it from there.
    mv "$1.$$" "$1" 2>/dev/null
    rmdir "$1.$$" "$1/${1##*/}.$$" 2>/dev/null
  fi
  [ -d "$1" ] && [ -w "$1" ] && [ -x "$1" ]
}
if [ -n "${HERMES_LOCK_DIR:-}" ]; then
  dir=$HERMES_LOCK_DIR
  shared "$dir" || { echo "cannot use HERMES_LOCK_DIR=$dir" >&2; exit 70; }
elif shared /run/lock/hermes-deploy; then dir=/run/lock/hermes-deploy
elif shared /var/lock/hermes-deploy; then dir=/var/lock/hermes-deploy
else
  dir="$HOME/.hermes-deploy/locks"
  mkdir -p "$dir" || exit 70
fi
case ${DOCKER_HOST:-unix:///var/run/docker.sock} in
  unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
  *) sum=$(printf %s "$DOCKER_HOST" | cksum) && name="$name@${sum%% *}" ;;
esac
lock="$dir/$name.lock"
# Read-only when it exists: flock needs no more, so a file another user made works as well.
if ! { command exec 9<"$lock"; } 2>/dev/null; then
  command exec 9>>"$lock" || exit 70
fi
if ! flock -n 9; then
  last=
  while :; do
    held=$(cat "$lock" 2>/dev/null)
    if [ -n "$held" ] && [ "$held" != "$last" ]; then echo "waiting $held"; last=$held; fi
    [ "$(date +%s)" -lt "$end" ] || { echo "timeout $last"; exit 75; }
    flock -w 1 9 && break
  done
fi
beat=$(mktemp "${TMPDIR:-/tmp}/hermes-heartbeat.XXXXXX") || exit 70
prev=$(cat "$lock" 2>/dev/null)
[ -z "$prev" ] || echo "takeover its process has ended: $prev"
{ printf '%s\n' "$holder" >"$lock"; } 2>/dev/null
# The watchdog stops this holder when it hears nothing for $stale s, and ends when the holder has.
(
  while kill -0 $$ 2>/dev/null; do
    if [ $(( $(date +%s) - $(stat -c %Y "$beat" 2>/dev/null || date +%s) )) -gt "$stale" ]; then
      kill $$
      break
    fi
    sleep 1
  done
  rm -f "$beat"
) </dev/null >/dev/null 2>&1 9<&- &
watchdog=$!
echo acquired
if [ -n "${5:-}" ]; then
  # What the run reads first (what runs on the host), in the lock's own round trip: its output
  # and stderr, then `#exit <code>`, as one line of base64.
  out=$( (eval "$(printf %s "$5" | base64 -d)") </dev/null 2>&1 9<&-; echo "#exit $?")
  printf 'then %s\n' "$(printf '%s\n' "$out" | base64 | tr -d '\n')"
fi
after=
while IFS= read -r line; do
  case $line in
    release) break ;;
    after\ *) after="$after ${line#after }" ;;
  esac
  touch "$beat"
done
kill "$watchdog" 2>/dev/null
rm -f "$beat"
if [ -n "$after" ]; then
  # Work that must not delay the job (removing the admin container, pruning old releases, the
  # history line) runs on after the run has gone, in a session of its own, with the lock's
  # descriptor: the next deploy waits for it. Each piece in a subshell of its own, in order.
  { printf '%s (finishing: after the deploy)\n' "$holder" >"$lock"; } 2>/dev/null
  # shellcheck disable=SC2016,SC2086 # expanded by the inner sh; $after: base64 words, one each
  setsid sh -c 'lock=$1; shift; for a; do (eval "$(printf %s "$a" | base64 -d)"); done; { true >"$lock"; } 2>/dev/null' \
    sh "$lock" $after </dev/null >/dev/null 2>&1 &
else
  { true >"$lock"; } 2>/dev/null
fi
exec 9<&-
echo released
