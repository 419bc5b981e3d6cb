#!/usr/bin/env bash
# End the session that sits idle in a transaction; the migration then takes its lock,
# finishes in milliseconds, and the queued writes go through.
set -euo pipefail
docker compose exec -T app psql -Atc "
    SELECT pid, application_name, pg_terminate_backend(pid)
    FROM pg_stat_activity
    WHERE state = 'idle in transaction' AND datname = current_database()"
