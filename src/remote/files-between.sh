#!/bin/sh
# In a git checkout: list the files changed between commits $1 and $2.
git -c safe.directory="$PWD" diff --name-only "$1" "$2"