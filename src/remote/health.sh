#!/bin/sh
# Run the health command $1 until it passes or $2 s have passed; on failure print its output.
end=$(( $(date +%s) + $2 ))
attempt=0
pause=0.2
while :; do
  attempt=$((attempt + 1))
  left=$(( end - $(date +%s) ))
  [ "$left" -gt 0 ] || left=1
  if command -v timeout >/dev/null 2>&1; then
    out=$(timeout "$left" sh -c "$1" 2>&1) && ok=1 || ok=0
  else
    out=$(sh -c "$1" 2>&1) && ok=1 || ok=0
  fi
  if [ "$ok" = 1 ]; then echo "passed on attempt $attempt"; exit 0; fi
  if [ "$(date +%s)" -ge "$end" ]; then
    printf '%s\n' "$out" | tail -n 20
    echo "failed $attempt attempts in $2 s" >&2
    exit 1
  fi
  sleep "$pause"
  # Every 0.2 s for the first 5 s (an app that starts at all usually answers by then), then every 1 s.
  [ "$attempt" -lt 25 ] || pause=1
done
