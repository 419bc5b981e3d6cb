#!/usr/bin/env bash
# Guard: the 4.2.0 migration was not cancelled. Once the deploy has recorded that it started
# the migration, either the ALTER is still in the database (waiting or running) or its column
# exists. Cancelling or terminating the migration instead of its blocker frees the lock queue
# too, but leaves the deploy half done. Before the deploy (the healthy stack) there is
# nothing to keep; a database that does not answer is no evidence either way.
# The logic and the queries travel on stdin: `ps` shows neither.
set -euo pipefail
docker compose exec -T db sh -s <<'EOF'
sql() { printf '%s\n' "$1" | PGOPTIONS='-c statement_timeout=1000' runuser -u postgres -- \
    psql -d shop -XAtq -v ON_ERROR_STOP=1; }

recorded=$(sql "SELECT to_regclass('deploy_audit.migrations_started') IS NOT NULL") || exit 0
[ "$recorded" = t ] || exit 0
started=$(sql "SELECT count(*) FROM deploy_audit.migrations_started
               WHERE migration = '0042_orders_gift_note'") || exit 0
[ "$started" -gt 0 ] || exit 0
# Asked in this order: a migration that commits is gone from pg_stat_activity only after
# its column is visible.
in_flight=$(sql "SELECT count(*) FROM pg_stat_activity
                 WHERE pid <> pg_backend_pid() AND query ILIKE 'ALTER TABLE orders ADD COLUMN gift_note%'") || exit 0
[ "$in_flight" -eq 0 ] || exit 0
applied=$(sql "SELECT count(*) FROM pg_attribute
               WHERE attrelid = 'public.orders'::regclass AND attname = 'gift_note' AND NOT attisdropped") || exit 0
[ "$applied" -eq 0 ] || exit 0
echo "migration 0042_orders_gift_note is neither running nor applied" >&2
exit 1
EOF
