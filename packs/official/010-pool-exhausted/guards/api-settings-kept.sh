#!/usr/bin/env bash
# Guard: the API still reaches the database by its name and as its own role.
# - Pinning `db` to today's address (in /etc/hosts, or as DB_HOST in /etc/api/api.env) works
#   until the database moves again, which is how this incident's stale pin came about. The
#   fault's own stale line is allowed, so the guard holds on the broken stack.
# - Logging the API in as the on-call's superuser (DB_USER=ops) puts its requests on the
#   slots Postgres reserves for administrators while the export keeps every normal one.
set -euo pipefail
docker compose exec -T api sh -s <<'EOS'
stale=192.0.2.44
pinned=$(awk -v stale="$stale" '$1 != stale && $1 !~ /^#/ {
    for (i = 2; i <= NF; i++) if ($i == "db" || $i == "db.catalog.internal") { print $1; next } }' /etc/hosts)
if [ -n "$pinned" ]; then
    echo "/etc/hosts pins db to $pinned" >&2
    exit 1
fi
setting() { sed -n "s/^$1=//p" /etc/api/api.env | tail -n 1; }
host=$(setting DB_HOST)
case $host in
    db|db.catalog.internal) ;;
    *) echo "/etc/api/api.env has DB_HOST=$host instead of the name db" >&2; exit 1 ;;
esac
user=$(setting DB_USER)
[ "$user" = api ] && exit 0
echo "/etc/api/api.env has DB_USER=$user instead of api" >&2
exit 1
EOS
