#!/bin/sh
# In a git checkout: print local changes, fetch branch $1 from origin, relate ref $2 to HEAD; given fast-forward.sh as $3, run it (after #update) when the tree is clean and ref is on the branch, ahead of HEAD.
set -e
echo '#changed'
changed=$(git -c safe.directory="$PWD" status --porcelain --untracked-files=no)
[ -z "$changed" ] || printf '%s\n' "$changed"
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
fast_forward=$(relation "$head" "$target")
behind=$(relation "$target" "$head")
on_branch=$(relation "$target" "refs/remotes/origin/$1")
echo "fast_forward=$fast_forward"
echo "behind=$behind"
echo "on_branch=$on_branch"
# The update in the check's own round trip, where the deploy would go on to it: it only moves the
# admin container's checkout, which the deploy throws away when it stops.
if [ -n "${3:-}" ] && [ -z "$changed" ] && [ "$fast_forward" = yes ] && [ "$behind" = no ] && [ "$on_branch" = yes ]; then
  echo '#update'
  sh -c "$3" sh "$target"
fi
