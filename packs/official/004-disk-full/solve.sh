#!/usr/bin/env bash
# Stop whatever holds the runaway trace file open, then delete it to free the space.
set -euo pipefail
docker compose exec -T app sh -c '
    trace=/var/lib/app/cache/.debug/requests.trace
    for _ in 1 2 3; do
        pids=$(lsof -t "$trace" 2>/dev/null || true)
        [ -n "$pids" ] || break
        kill $pids 2>/dev/null || true
        sleep 0.5
    done
    rm -f "$trace"
    df -h /var/lib/app
'
