#!/bin/sh
# In a git checkout: print local changes, fetch branch $1 from origin, relate ref $2 to HEAD.
set -e
echo '#changed'
git -c safe.directory="$PWD" status --porcelain --untracked-files=no
echo '#relation'
git -c safe.directory="$PWD" fetch --quiet origin "+refs/heads/$1:refs/remotes/origin/$1"
head=$(git -c safe.directory="$PWD" rev-parse --verify HEAD)
target=
case $2 in
  *[!0-9a-f]*) target=$(git -c safe.directory="$PWD" rev-parse --verify --quiet "refs/remotes/origin/$2^{commit}" || git -c safe.directory="$PWD" rev-parse --verify --quiet "refs/tags/$2^{commit}" || true) ;;
  *) target=$(git -c safe.directory="$PWD" rev-parse --verify --quiet "$2^{commit}" || true) ;;
esac
echo "head=$head"
echo "target=$target"
[ -n "$target" ] || exit 0
relation() { if git -c safe.directory="$PWD" merge-base --is-ancestor "$1" "$2"; then echo yes; else echo no; fi; }
echo "fast_forward=$(relation "$head" "$target")"
echo "behind=$(relation "$target" "$head")"
echo "on_branch=$(relation "$target" "refs/remotes/origin/$1")"
