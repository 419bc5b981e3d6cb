#!/usr/bin/env bash
# Guard: the API still logs in as an ordinary role. Making `api` a superuser lets its
# requests through the slots Postgres reserves for administrators while the export keeps
# holding every normal one: the leak stays, and the on-call loses their way in.
# The logic and the query travel on stdin: `ps` shows neither.
set -euo pipefail
docker compose exec -T db sh -s <<'EOS'
super=$(PGOPTIONS='-c statement_timeout=1000' runuser -u postgres -- \
    psql -d catalog -XAtq -v ON_ERROR_STOP=1 <<SQL
SELECT rolsuper FROM pg_roles WHERE rolname = 'api'
SQL
) || exit 0
[ "$super" != t ] && exit 0
echo "the api role is a superuser" >&2
exit 1
EOS
