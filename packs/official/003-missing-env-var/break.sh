#!/usr/bin/env bash
# A deploy re-renders /etc/app/app.env from a template that lost one line, then restarts
# the orders API: the new process cannot boot without INVENTORY_URL and crash-loops.
set -euo pipefail
docker compose exec -T app sh -c '
    grep -v "^INVENTORY_URL=" /etc/app/app.env > /etc/app/app.env.new
    mv /etc/app/app.env.new /etc/app/app.env
    pkill -TERM -x python3 || true
'
