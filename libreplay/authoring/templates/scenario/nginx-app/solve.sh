#!/usr/bin/env bash
# The reference fix (never shown to trainees): the upstream back on the port the app listens
# on, checked and applied with a graceful reload. Your incident's resolution goes here.
set -euo pipefail
docker compose exec -T web sh -s <<'EOF_SOLVE'
sed -i "s/server app:8001 /server app:8000 /" /etc/nginx/conf.d/app.conf
nginx -t
nginx -s reload
EOF_SOLVE
