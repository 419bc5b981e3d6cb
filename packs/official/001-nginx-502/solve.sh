#!/usr/bin/env bash
# Point the nginx upstream back at the port the checkout app listens on, then reload gracefully.
set -euo pipefail
docker compose exec -T web sh -c '
    sed -i "s/server app:3001 /server app:3000 /" /etc/nginx/conf.d/checkout.conf
    nginx -t
    nginx -s reload
'
