#!/bin/sh
# Print each local image's layer chain, a JSON array per line; no parameters.
# shellcheck disable=SC2046 # image IDs, split into one argument each
docker image inspect --format '{{json .RootFS.Layers}}' $(docker image ls -q --no-trunc | sort -u) 2>/dev/null || true