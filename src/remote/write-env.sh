#!/bin/sh
# In the admin container: write the `export` lines on stdin to $1, and those after a `#build-env` line to $2, readable by this user only.
umask 077
file=$1
: >"$1" && : >"$2" || exit 1
while IFS= read -r line; do
  if [ "$line" = '#build-env' ]; then file=$2; continue; fi
  printf '%s\n' "$line" >>"$file" || exit 1
done
