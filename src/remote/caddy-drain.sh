#!/bin/sh
# Wait up to $3 s until Caddy (admin API $1) has no request in flight to port $2; print whether it drained.
end=$(( $(date +%s) + $3 ))
while :; do
  busy=$(curl -fsS --max-time 5 "$1/reverse_proxy/upstreams" 2>/dev/null |
    grep -o '"address":"[^"]*:'"$2"'","num_requests":[0-9]*' | sed 's/.*://' | sort -n | tail -n 1)
  if [ "${busy:-0}" -eq 0 ]; then echo "drained"; exit 0; fi
  if [ "$(date +%s)" -ge "$end" ]; then echo "still $busy requests after $3 s"; exit 0; fi
  sleep 0.1
done
