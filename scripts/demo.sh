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

# As a runner runs it: Node 24 (runs.using: node24), every input action.yml declares with its
# default where this workflow step sets none, a token, and an API URL (nothing answers on it
# here, so the commit range comes from git on the host).
node24="$(bash scripts/node24.sh)"
with="$(HOST="$HOST" PORT="$PORT" USERNAME="$USERNAME" KEY_PATH="$KEY_PATH" \
  HOST_FINGERPRINT="$HOST_FINGERPRINT" IMAGE="$IMAGE" REPO_PATH="$REPO_PATH" \
  BUILD_COMMAND="$BUILD_COMMAND" HEALTH_COMMAND="$HEALTH_COMMAND" node -e '
    const e = process.env
    console.log(JSON.stringify({
      host: e.HOST, port: e.PORT, username: e.USERNAME,
      "ssh-key": require("fs").readFileSync(e.KEY_PATH, "utf8"),
      "host-fingerprint": e.HOST_FINGERPRINT, image: e.IMAGE, "repo-path": e.REPO_PATH,
      "build-command": e.BUILD_COMMAND, "health-command": e.HEALTH_COMMAND
    }))')"
mapfile -d '' inputs < <(node scripts/runner-inputs.mjs "$with" ghs_demo_token)

echo "== Running dist/index.js on $("$node24" --version) for a push of $sha"
status=0
env -i PATH="$(dirname "$node24"):$PATH" HOME="$HOME" \
  GITHUB_ACTIONS=true GITHUB_EVENT_NAME=push GITHUB_EVENT_PATH="$run/event.json" \
  GITHUB_SHA="$sha" GITHUB_REF=refs/heads/master GITHUB_REPOSITORY=texasca/api GITHUB_RUN_ID=1 \
  GITHUB_API_URL=http://127.0.0.1:9 \
  GITHUB_OUTPUT="$run/output" GITHUB_STEP_SUMMARY="$run/summary.md" GITHUB_STATE="$run/state" RUNNER_TEMP="$run" \
  "${inputs[@]}" \
  "$node24" dist/index.js | grep -v -e '^::add-mask::' -e '^::debug::' || status=$?

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
