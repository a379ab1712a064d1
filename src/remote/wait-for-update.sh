#!/bin/sh
# Wait up to $3 s for service $1's update started after $2 to end; print its state and tasks.
service=$1 before=$2
end=$(( $(date +%s) + $3 ))
timedout=0
while :; do
  status=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.StartedAt}}{{end}}' "$service") || exit 1
  state=${status%%|*}
  if [ -n "$status" ] && [ "${status#*|}" != "$before" ]; then
    case $state in completed|paused|rollback_completed|rollback_paused) break ;; esac
  fi
  if [ "$(date +%s)" -ge "$end" ]; then timedout=1; break; fi
  sleep 0.5
done
# Swarm calls an update (or its rollback) complete when it has started the tasks; wait until
# they run (and pass their health checks: a task with one is "starting" until then).
up=0 total=0
case "$timedout $state" in
  "0 completed"|"0 rollback_completed")
    while :; do
      states=$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$service") || break
      total=$(printf '%s\n' "$states" | grep -c .)
      up=$(printf '%s\n' "$states" | grep -c '^Running')
      [ "$total" -gt 0 ] && [ "$up" -eq "$total" ] && break
      if [ "$(date +%s)" -ge "$end" ]; then timedout=1; break; fi
      sleep 0.5
    done ;;
esac
echo "state=${state:-none}"
echo "timedout=$timedout"
echo "running=$up/$total"
docker service inspect --format 'message={{if .UpdateStatus}}{{.UpdateStatus.Message}}{{end}}' "$service"
docker service inspect --format 'image={{.Spec.TaskTemplate.ContainerSpec.Image}}' "$service"
# The newest tasks, for the report: which image each runs and why one failed.
docker service ps --no-trunc --format 'task={{.Name}}|{{.Image}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}' "$service" | head -n 8
