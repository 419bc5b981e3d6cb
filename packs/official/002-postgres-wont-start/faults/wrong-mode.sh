#!/usr/bin/env bash
# Someone opens the data directory up so a backup agent's group can write to it, then
# postgres is restarted: it refuses a data directory others can get into.
set -euo pipefail
docker compose exec -T db sh -c '
    data=/var/lib/postgresql/15/main
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    chmod 0775 "$data"
    [ -z "$pid" ] || kill -INT "$pid"
'
