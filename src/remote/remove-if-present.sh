#!/bin/sh
# Remove container $1: succeed when it is gone either way, fail only when it is still there.
docker rm --force "$1" >/dev/null 2>&1 || ! docker container inspect "$1" >/dev/null 2>&1