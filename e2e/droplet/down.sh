#!/usr/bin/env bash
# Stops the local droplet: supervisor, git daemon, its own sshd and the app
# containers, and the Docker hosts beside it (second.sh, swarm.sh) whole, their
# dockerd included. Leaves the droplet's dockerd, images and the state dir
# (keys, origin) alone, so the next up.sh is quick. `--all` also stops a
# dockerd that up.sh started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

all=0
case "${1:-}" in
  "") ;;
  --all) all=1 ;;
  *) die "usage: $0 [--all]" ;;
esac

# The other hosts first: they run on the droplet's user and keys. Each one's
# own `down` (it keeps their data).
for host in second swarm; do
  if [ -d "$STATE/$host" ]; then
    bash "$HERE/$host.sh" down
  fi
done

# The supervisor first, or it would respawn the container we remove. It runs
# in its own session, so signal the whole group. Its `docker run` client only
# forwards the TERM to the app, which may outlive it by Docker's stop timeout, so remove
# the container too: then the client returns and the supervisor's trap exits.
if pid_alive "$SUPERVISOR_PIDFILE" "$SUPERVISOR_ID"; then
  log "stopping supervisor"
  kill -TERM -- "-$(cat "$SUPERVISOR_PIDFILE")" 2>/dev/null || true
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
fi
stop_pidfile "$SUPERVISOR_PIDFILE" "$SUPERVISOR_ID" group

if docker_ok; then
  # Only this instance's: another one may share the daemon.
  mapfile -t containers < <(own_containers)
  if [ "${#containers[@]}" -gt 0 ]; then
    log "removing containers: $(docker inspect --format '{{.Name}}' "${containers[@]}" 2>/dev/null | sed 's|^/||' | tr '\n' ' ')"
    docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  fi
fi

pid_alive "$CADDY_PIDFILE" "$CADDY_ID" && log "stopping caddy"
stop_pidfile "$CADDY_PIDFILE" "$CADDY_ID"
pid_alive "$GITD_PIDFILE" "$GITD_ID" && log "stopping git daemon"
stop_pidfile "$GITD_PIDFILE" "$GITD_ID"
pid_alive "$SSHD_PIDFILE" "$SSHD_ID" && log "stopping sshd"
stop_pidfile "$SSHD_PIDFILE" "$SSHD_ID"

if [ "$all" = 1 ]; then
  if pid_alive "$DOCKERD_PIDFILE" "$DOCKERD_ID"; then
    log "stopping dockerd (started by up.sh)"
    pid="$(cat "$DOCKERD_PIDFILE")"
    kill -TERM "$pid"
    # dockerd removes its pidfile once it has shut down cleanly.
    wait_for 30 "dockerd (pid $pid) to stop" "See $STATE/dockerd.log." \
      pid_gone "$pid"
    rm -f "$DOCKERD_PIDFILE"
  else
    log "dockerd was not started by up.sh; leaving it running"
  fi
fi
log "down"
