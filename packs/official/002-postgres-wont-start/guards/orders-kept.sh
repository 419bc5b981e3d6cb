#!/usr/bin/env bash
# Guard: the shop's orders are still there. A fresh cluster (initdb, or a wiped data
# directory) starts fine and has no shop at all. Asked as the postgres superuser over the
# local socket; a postgres that does not answer yet is no evidence of a loss, so it passes.
# The logic and the query travel on stdin: `ps` shows neither.
set -euo pipefail
docker compose exec -T db sh -s <<'EOF'
pg_isready -q -h /var/run/postgresql || exit 0
answer=$(PGOPTIONS='-c statement_timeout=1000' runuser -u postgres -- \
    psql -d shop -XAtq -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT count(*) FROM orders
SQL
) && [ "$answer" -ge 500 ] && exit 0
case $answer in
    *"does not exist"*|[0-9]*) echo "the shop's orders are gone: $answer" >&2; exit 1 ;;
esac
exit 0  # starting up, shutting down: ask again in two seconds
EOF
