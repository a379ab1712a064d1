#!/bin/sh
# Print "<tag> <image ID> <commit message>" for each tag of repository $1, newest first.
docker image ls --no-trunc --format '{{.Tag}} {{.ID}}' "$1" | while read -r tag id; do
  echo "$tag $id $(docker image inspect --format '{{.Comment}}' "$id")"
done