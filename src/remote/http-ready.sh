#!/bin/sh
# Wait up to $2 s for $1 to answer HTTP 2xx or 3xx (curl, else wget); on failure print the last answer and exit 124.
end=$(( $(date +%s) + $2 ))
pause=0.1
while :; do
  if command -v curl >/dev/null 2>&1; then
    status=$(curl -sS -o /dev/null --max-time 5 -w '%{http_code}' "$1" 2>&1) || true
  else
    # wget follows a redirect: the last status it prints (-S) is the answer's.
    status=$(wget -S -O /dev/null -T 5 "$1" 2>&1 | awk '$1 ~ /^HTTP\// { code = $2 } END { print code }') || true
  fi
  case "$status" in
    2[0-9][0-9] | 3[0-9][0-9]) echo "ready: $1 answered $status"; exit 0 ;;
  esac
  if [ "$(date +%s)" -ge "$end" ]; then
    echo "$1 did not answer 2xx or 3xx within $2 s; last: ${status:-no answer}" >&2
    exit 124
  fi
  sleep "$pause"
  pause=0.25
done
