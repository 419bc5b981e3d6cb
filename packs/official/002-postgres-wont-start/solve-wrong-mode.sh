#!/usr/bin/env bash
# Close the data directory to its owner again; the supervisor's next start succeeds.
set -euo pipefail
docker compose exec -T db chmod 0700 /var/lib/postgresql/15/main
