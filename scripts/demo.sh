#!/usr/bin/env bash
# The main job on a local default: bring up a local droplet (dockerd + OpenSSH sshd on
# 127.0.0.1, user core, a supervised texasca/api container), push a sample commit to its
# origin, and run the bundled action against it exactly as the GitHub runner would.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash e2e/droplet/up.sh
# shellcheck source=/dev/null
. "${HERMES_DROPLET_STATE:-/tmp/hermes-droplet}/env"

# A new commit on origin's master, as a merge to master would make.
git -C "$WORK_DIR" pull --quiet --ff-only origin master 2>/dev/null || true
date -u +"Deployed by the demo at %Y-%m-%dT%H:%M:%SZ" >"$WORK_DIR/DEMO.txt"
git -C "$WORK_DIR" add DEMO.txt
git -C "$WORK_DIR" commit --quiet -m "Demo release $(date -u +%H:%M:%S)"
git -C "$WORK_DIR" push --quiet origin HEAD:master
sha="$(git -C "$WORK_DIR" rev-parse HEAD)"

run="$(mktemp -d)"
printf '{"ref":"refs/heads/master","after":"%s"}\n' "$sha" >"$run/event.json"
: >"$run/output"
: >"$run/summary.md"
: >"$run/state"

echo "== Running dist/index.js for a push of $sha"
status=0
env -i PATH="$PATH" HOME="$HOME" \
  GITHUB_ACTIONS=true GITHUB_EVENT_NAME=push GITHUB_EVENT_PATH="$run/event.json" \
  GITHUB_SHA="$sha" GITHUB_REF=refs/heads/master GITHUB_REPOSITORY=texasca/api GITHUB_RUN_ID=1 \
  GITHUB_OUTPUT="$run/output" GITHUB_STEP_SUMMARY="$run/summary.md" GITHUB_STATE="$run/state" RUNNER_TEMP="$run" \
  INPUT_HOST="$HOST" INPUT_PORT="$PORT" INPUT_USERNAME="$USERNAME" \
  "INPUT_SSH-KEY=$(cat "$KEY_PATH")" "INPUT_HOST-FINGERPRINT=$HOST_FINGERPRINT" \
  INPUT_IMAGE="$IMAGE" "INPUT_REPO-PATH=$REPO_PATH" "INPUT_BUILD-COMMAND=$BUILD_COMMAND" \
  "INPUT_HEALTH-COMMAND=$HEALTH_COMMAND" \
  node dist/index.js | grep -v -e '^::add-mask::' -e '^::debug::' || status=$?

echo
echo "== Outputs ($run/output)"
grep -v '^ghadelimiter' "$run/output" | paste - - | sed 's/<<.*\t/ = /'
echo
echo "== Job summary ($run/summary.md)"
cat "$run/summary.md"
echo
echo "== The app now serves ($APP_URL)"
curl -fsS "$APP_URL" || true
exit "$status"
