#!/usr/bin/env bash
# Either fault: postgres must own its data directory and be the only one who can enter it.
set -euo pipefail
docker compose exec -T db sh -c '
    chown -R postgres:postgres /var/lib/postgresql/15/main
    chmod 0700 /var/lib/postgresql/15/main
'
