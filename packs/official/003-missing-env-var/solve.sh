#!/usr/bin/env bash
# Put the inventory address back into the env file; the supervisor reads it on the next start.
set -euo pipefail
docker compose exec -T app sh -c '
    grep -q "^INVENTORY_URL=" /etc/app/app.env || echo "INVENTORY_URL=http://inventory:8080" >> /etc/app/app.env
'
