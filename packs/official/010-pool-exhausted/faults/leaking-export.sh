#!/usr/bin/env bash
# Month-end: the invoice export starts on the batch host and leaks one connection per batch
# until Postgres has no slot left for anyone but superusers.
set -euo pipefail
docker compose exec -d batch sh -c 'python3 -u /opt/catalog/invoice_export.py >>/var/log/invoice-export.log 2>&1'
for _ in $(seq 1 60); do
    held=$(docker compose exec -T db runuser -u postgres -- psql -Atc \
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'invoice-export'")
    if [ "$held" -ge 17 ]; then
        exit 0
    fi
    sleep 0.5
done
echo "leaking-export.sh: the export holds only $held connections" >&2
exit 1
