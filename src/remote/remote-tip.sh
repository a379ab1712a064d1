#!/bin/sh
# In a git checkout: print the commit branch $1 points to on origin, changing nothing locally.
git -c safe.directory="$PWD" ls-remote --exit-code origin "refs/heads/$1"