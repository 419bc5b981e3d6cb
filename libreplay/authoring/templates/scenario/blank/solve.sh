#!/usr/bin/env bash
# The reference fix (never shown to trainees): what the real incident's resolution did.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF_SOLVE'
chown -R orders:orders /var/spool/orders
EOF_SOLVE
