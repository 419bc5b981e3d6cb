#!/usr/bin/env bash
# The data directory is "restored" with rsync -a --numeric-ids from a box where postgres
# was uid 70, then postgres is restarted: it refuses a data directory it does not own.
set -euo pipefail
docker compose exec -T db sh -c '
    data=/var/lib/postgresql/15/main
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    chown -R 70:70 "$data"
    [ -z "$pid" ] || kill -INT "$pid"
'
