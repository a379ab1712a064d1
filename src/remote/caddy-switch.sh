#!/bin/sh
# Point Caddy's upstreams (admin API $1) that dial port $2 at port $3, in one config load; $4=if-present: none is fine.
admin=$1 from=$2 to=$3 mode=$4
config=$(curl -fsS --max-time 10 "$admin/config/") || {
  echo "Caddy's admin API at $admin did not answer (is Caddy running, with its admin endpoint there?)" >&2
  exit 3
}
# Caddy writes its config as compact JSON: every upstream is "dial":"host:port".
count=$(printf '%s' "$config" | grep -o '"dial":"[^"]*:'"$from"'"' | wc -l)
if [ "$count" -eq 0 ]; then
  [ "$mode" = if-present ] && { echo "switched=0"; exit 0; }
  echo "No reverse_proxy upstream in Caddy's config dials port $from." >&2
  exit 4
fi
printf '%s' "$config" | sed 's/"dial":"\([^"]*\):'"$from"'"/"dial":"\1:'"$to"'"/g' |
  curl -fsS --max-time 120 -X POST -H 'Content-Type: application/json' --data-binary @- "$admin/load" >&2 || {
  echo "Caddy's admin API at $admin refused the new config." >&2
  exit 5
}
echo "switched=$count"
