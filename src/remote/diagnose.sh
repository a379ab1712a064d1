#!/bin/sh
# Print container $1's state (#state) and the last $2 lines of its log (#logs); always succeeds.
docker inspect --format '#state exit={{.State.ExitCode}} oom={{.State.OOMKilled}} status={{.State.Status}} restarts={{.RestartCount}} {{.State.Error}}' "$1" 2>/dev/null || echo "#state gone"
echo '#logs'
docker logs --tail "$2" "$1" 2>&1
true
