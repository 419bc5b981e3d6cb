#!/usr/bin/env bash
# Guard: the shop's orders are still in the database. A re-initialised cluster or a recreated
# database answers too, empty. A postgres that does not answer yet is no evidence of a loss, so
# it passes. Protect what your incident's real fix keeps. Logic and query go on stdin.
set -euo pipefail
docker compose exec -T db sh -s <<'EOF_GUARD'
pg_isready -q -h /var/run/postgresql || exit 0
answer=$(PGOPTIONS='-c statement_timeout=1000' runuser -u postgres -- \
    psql -d shop -XAtq -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT count(*) FROM orders
SQL
) && [ "$answer" -ge 200 ] && exit 0
case $answer in
    *"does not exist"*|[0-9]*) echo "the shop's orders are gone: $answer" >&2; exit 1 ;;
esac
exit 0  # starting up or shutting down: asked again in two seconds
EOF_GUARD
