#!/usr/bin/env bash
# The reference fix (never shown to trainees): the app's env file gets the password the
# database has, and the app is restarted to read it. Your incident's resolution goes here.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF_SOLVE'
sed -i 's/^DB_PASSWORD=.*/DB_PASSWORD=shop-db-2024/' /etc/app/app.env
pkill -x python3
EOF_SOLVE
