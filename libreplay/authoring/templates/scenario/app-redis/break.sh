#!/usr/bin/env bash
# The placeholder fault: a "memory diet" capped Redis below what it holds, live and written to
# redis.conf (so a restart keeps it); with noeviction every write is refused. Put your
# incident's break here, done the way it happened. The script goes over stdin (`sh -s`).
set -euo pipefail
docker compose exec -T redis sh -s <<'EOF_BREAK'
redis-cli CONFIG SET maxmemory 1mb >/dev/null
redis-cli CONFIG REWRITE >/dev/null
EOF_BREAK
