#!/usr/bin/env bash
# 1. The nightly report opens a transaction, reads orders, then hangs on its upload:
#    "idle in transaction", holding an ACCESS SHARE lock on orders.
# 2. The deploy runs its migration from the app container: ALTER TABLE needs ACCESS
#    EXCLUSIVE, waits behind the report, and every later query on orders queues behind it.
set -euo pipefail

wait_for() {  # wait_for SQL-CONDITION DESCRIPTION
    for _ in $(seq 1 40); do
        if [ "$(docker compose exec -T app psql -Atc "SELECT count(*) > 0 FROM pg_stat_activity WHERE $1")" = t ]; then
            return 0
        fi
        sleep 0.25
    done
    echo "break.sh: $2 never showed up in pg_stat_activity" >&2
    exit 1
}

docker compose exec -d reports sh -c 'python3 -u /opt/shop/nightly_report.py >>/var/log/nightly-report.log 2>&1'
wait_for "application_name = 'nightly-report' AND state = 'idle in transaction'" "the nightly report"

# The deploy tool records the migration it starts, as deploy tools do; owned by the
# database's superuser, like the tool's own bookkeeping.
docker compose exec -T db runuser -u postgres -- psql -d shop -XAtq -v ON_ERROR_STOP=1 -c "
    CREATE SCHEMA IF NOT EXISTS deploy_audit;
    CREATE TABLE IF NOT EXISTS deploy_audit.migrations_started (
        migration text PRIMARY KEY, release text NOT NULL, started_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO deploy_audit.migrations_started (migration, release)
    VALUES ('0042_orders_gift_note', '4.2.0') ON CONFLICT DO NOTHING"
docker compose exec -d -e PGAPPNAME=migrate app sh -c '
    echo "$(date -u +%FT%TZ) deploy 4.2.0: running migration 0042_orders_gift_note" >>/var/log/deploy.log
    psql -v ON_ERROR_STOP=1 -c "ALTER TABLE orders ADD COLUMN gift_note text" >>/var/log/deploy.log 2>&1
    echo "$(date -u +%FT%TZ) deploy 4.2.0: migration finished with status $?" >>/var/log/deploy.log'
wait_for "application_name = 'migrate' AND wait_event_type = 'Lock'" "the migration"
