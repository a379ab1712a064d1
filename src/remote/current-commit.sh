#!/bin/sh
# In a git checkout: print the commit HEAD points to.
git -c safe.directory="$PWD" rev-parse --verify HEAD