#!/usr/bin/env bash
# The reference fix (never shown to trainees): Redis gets its room back, live and in
# redis.conf, so the restart during the hold keeps it. Your incident's resolution goes here.
set -euo pipefail
docker compose exec -T redis sh -s <<'EOF_SOLVE'
redis-cli CONFIG SET maxmemory 64mb >/dev/null
redis-cli CONFIG REWRITE >/dev/null
EOF_SOLVE
