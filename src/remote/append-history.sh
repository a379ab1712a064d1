#!/bin/sh
# Append the JSON line $2 to ~/.hermes-deploy/history/$1.jsonl and print its last $3 lines.
dir="$HOME/.hermes-deploy/history"
mkdir -p "$dir" || exit 1
file="$dir/$1.jsonl"
printf '%s\n' "$2" >>"$file"
tail -n "$3" "$file"
