#!/usr/bin/env bash
# A colleague's request-tracing one-liner, started yesterday and forgotten: it appends
# trace lines to a hidden file on the app's data volume, and when the volume is full it
# keeps trying (holding the file open), so deleting the file alone frees nothing.
set -euo pipefail
docker compose exec -T app mkdir -p /var/lib/app/cache/.debug
docker compose exec -d -T app sh -c 'while :; do t=$(date +%FT%T); yes "$t TRACE orders.checkout cart=8f3a2c91 sql=\"SELECT * FROM line_items WHERE cart_id = 8f3a2c91\" rows=14 ms=3.2" | head -c 2000000; sleep 0.2; done >> /var/lib/app/cache/.debug/requests.trace 2>/dev/null'
# Return once the volume is full, so that the check right after this sees the failure.
for _ in $(seq 1 40); do
    if docker compose exec -T app sh -c '[ "$(df --output=avail /var/lib/app | tail -n 1)" -lt 64 ]'; then
        exit 0
    fi
    sleep 0.5
done
echo "break.sh: /var/lib/app did not fill up" >&2
exit 1
