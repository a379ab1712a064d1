#!/bin/sh
# Print when service $1's last update started (before=), then ask Swarm to roll it back.
set -e
service=$1
echo "before=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.StartedAt}}{{end}}' "$service")"
docker service update --detach --quiet --rollback "$service" >/dev/null
