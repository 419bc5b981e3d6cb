#!/usr/bin/env bash
# Guard: the shop's database still asks the app for its password. `trust` in pg_hba.conf
# (or any method that lets a wrong password in) gets connections through without fixing
# anything. Tried over TCP on loopback and on the container's own address, as the app user
# with a wrong password: the login must fail. A postgres that is down refuses too: that passes.
# The logic travels on stdin and the password in the environment: `ps` shows neither.
set -euo pipefail
docker compose exec -T db sh -s <<'EOF'
for host in 127.0.0.1 $(hostname -i); do
    if PGPASSWORD=not-the-password PGCONNECT_TIMEOUT=2 psql -h "$host" -U app -d shop -XAtq \
            >/dev/null 2>&1 <<SQL
SELECT 1
SQL
    then
        echo "postgres let the app user in on $host with a wrong password" >&2
        exit 1
    fi
done
exit 0
EOF
