#!/usr/bin/env bash
# Give the Sidekiq worker the Redis credentials the shop already uses (web.env); the
# supervisor's next start of sidekiq reads them.
set -euo pipefail
docker compose exec -T app sh -c '
    url=$(grep "^REDIS_URL=" /etc/shop/web.env | cut -d= -f2-)
    sed -i "s#^REDIS_URL=.*#REDIS_URL=$url#" /etc/sidekiq/sidekiq.env
'
