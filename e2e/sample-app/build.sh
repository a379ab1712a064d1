#!/bin/sh
# Builds the sample app: a static page naming the commit it was built from.
set -eu
cd "$(dirname "$0")"

sha="$(git rev-parse HEAD)"
subject="$(git log -1 --format=%s)"
echo "build.sh: building commit $sha"
echo "build.sh: message: $subject"

rm -rf build
mkdir build
printf 'commit=%s\nmessage=%s\n' "$sha" "$subject" >build/index.html
printf '%s\n' "$sha" >build/VERSION

echo "build.sh: wrote build/index.html and build/VERSION"
echo "build.sh: done"
