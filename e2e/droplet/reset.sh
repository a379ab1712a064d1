#!/usr/bin/env bash
# Puts the droplet back to its baseline between tests: only the production
# container, texasca/api:latest = baseline image, origin and the working clone
# at the baseline commit, no dangling images. Takes a few seconds. Touches only
# this instance's containers and images (see own_containers in lib.sh).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

if [ ! -s "$STATE/baseline_image" ] || [ ! -s "$STATE/baseline_commit" ]; then
  die "no baseline recorded in $STATE; run e2e/droplet/up.sh first"
fi
pid_alive "$SUPERVISOR_PIDFILE" "$SUPERVISOR_ID" ||
  die "the supervisor is not running; run e2e/droplet/up.sh first"
BASELINE_IMAGE="$(cat "$STATE/baseline_image")"
BASELINE_COMMIT="$(cat "$STATE/baseline_commit")"
image_exists "$BASELINE_IMAGE" ||
  die "baseline image $BASELINE_IMAGE is gone; remove $STATE/baseline_image and run up.sh"

# A deploy's retention runs on after its job, holding the deploy lock: let it finish first.
for f in /run/lock/hermes-deploy/*.lock /var/lock/hermes-deploy/*.lock; do
  [ -e "$f" ] && { flock -w 60 "$f" true || die "the deploy lock $f is still held after 60 s"; }
done

# Re-tag first, so the supervisor can only ever respawn the baseline.
docker tag "$BASELINE_IMAGE" "$IMAGE:latest"
docker tag "$BASELINE_IMAGE" "$BASELINE_TAG"

# Every container of this instance goes (admin containers, leftovers, and the
# production one, which the supervisor respawns from the baseline). Another
# instance's containers on the same daemon are left alone.
mapfile -t containers < <(own_containers)
if [ "${#containers[@]}" -gt 0 ]; then
  docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
fi

# Only :latest stays in the production repository.
mapfile -t tags < <(docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE" | grep -vx "$IMAGE:latest" | grep -v ':<none>$' || true)
if [ "${#tags[@]}" -gt 0 ]; then
  docker rmi "${tags[@]}" >/dev/null
fi

# Origin: master at the baseline, no other branches or tags.
while read -r ref; do
  [ "$ref" = refs/heads/master ] || git -C "$ORIGIN_DIR" update-ref -d "$ref"
done < <(git -C "$ORIGIN_DIR" for-each-ref --format='%(refname)')
git -C "$ORIGIN_DIR" update-ref refs/heads/master "$BASELINE_COMMIT"
git -C "$ORIGIN_DIR" symbolic-ref HEAD refs/heads/master

# Working clone: on master at the baseline, clean, nothing half-done.
rm -rf "$WORK_DIR/.git/rebase-merge" "$WORK_DIR/.git/rebase-apply"
git -C "$WORK_DIR" checkout -q -f -B master "$BASELINE_COMMIT"
git -C "$WORK_DIR" clean -qfdx
while read -r ref; do
  [ "$ref" = refs/heads/master ] || git -C "$WORK_DIR" update-ref -d "$ref"
done < <(git -C "$WORK_DIR" for-each-ref --format='%(refname)')
git -C "$WORK_DIR" update-ref refs/remotes/origin/master "$BASELINE_COMMIT"
git -C "$WORK_DIR" branch -q --set-upstream-to=origin/master master

# Dangling images of this instance only: all of its images carry its label.
# Docker runs one prune at a time per daemon, and another instance may be pruning: try again.
for try in 1 2 3 4 5 6 7 8 9 10; do
  out="$(docker image prune -f --filter "label=org.opencontainers.image.title=$CONTAINER" 2>&1)" && break
  case "$out" in *"prune operation is already running"*) sleep 1 ;; *) die "docker image prune: $out" ;; esac
  [ "$try" -lt 10 ] || die "docker image prune: $out"
done

# If the supervisor resolved the old tag just before the re-tag, what answers
# is not the baseline: remove it again and let the supervisor respawn.
baseline_up() {
  app_serves "$BASELINE_COMMIT" && return 0
  if app_ok; then
    docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  fi
  return 1
}
# Caddy back on its Caddyfile: a test may have left it pointed at a stand-in.
if pid_alive "$CADDY_PIDFILE" "$CADDY_ID"; then
  caddy reload --config "$CADDY_DIR/Caddyfile" --adapter caddyfile \
    --address "$LOOPBACK:$CADDY_ADMIN_PORT" --force >/dev/null 2>&1 ||
    die "caddy reload failed; see $CADDY_DIR/caddy.log"
fi
wait_for 30 "the app to serve the baseline commit $BASELINE_COMMIT at $APP_URL" \
  "Check $STATE/supervisor.log and 'docker logs $CONTAINER'." baseline_up
log "reset to baseline $BASELINE_COMMIT (image $BASELINE_IMAGE)"
