#!/usr/bin/env bash
# Fixes either root cause of the page; safe to run when one of them is not present.
set -euo pipefail

# Retired database host pinned in /etc/hosts: drop the pin so `db` resolves through Docker's
# DNS again. /etc/hosts is bind-mounted, so rewrite it in place (sed -i would try a rename).
docker compose exec -T api sh -c 'grep -v "192\.0\.2\.44" /etc/hosts > /tmp/hosts.new && cat /tmp/hosts.new > /etc/hosts && rm /tmp/hosts.new'

# Leaking export: terminate its sessions (the superuser gets in through the reserved slots);
# the job dies on its next keep-alive and its leak stops with it.
docker compose exec -T api psql -Atc "
    SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'invoice-export'"
