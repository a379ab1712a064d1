#!/bin/sh
# In a git checkout: list tracked files with local changes, porcelain; untracked ones do not count.
git -c safe.directory="$PWD" status --porcelain --untracked-files=no