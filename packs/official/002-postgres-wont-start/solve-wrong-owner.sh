#!/usr/bin/env bash
# Give the data directory back to the postgres user; the supervisor's next start succeeds.
set -euo pipefail
docker compose exec -T db chown -R postgres:postgres /var/lib/postgresql/15/main
