#!/usr/bin/env bash
# The shop's database answers on TCP as the app's user and still holds the shop's orders
# (a fresh, empty cluster does not pass).
# The query goes over stdin (sh -s, then echo, a builtin, into psql), so the trainee's `ps`
# in the container shows neither it nor the password (docs/writing-scenarios.md). -X: no
# ~/.psqlrc, which the trainee could write, changes what the check sees.
set -euo pipefail
count=$(docker compose exec -T db sh -s <<'EOF'
export PGPASSWORD=orders-2023 PGCONNECT_TIMEOUT=2
echo 'SELECT count(*) FROM orders' | psql -X -At -h 127.0.0.1 -p 5432 -U app -d shop
EOF
)
[ "$count" -ge 500 ]
