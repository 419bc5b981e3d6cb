#!/usr/bin/env bash
# Guard: the API still reaches the database by its name and as its own role.
# - Pinning `db` to today's address (in /etc/hosts, or as DB_HOST in /etc/api/api.env) works
#   until the database moves again, which is how this incident's stale pin came about. The
#   fault's own stale line is allowed, so the guard holds on the broken stack.
# - Logging the API in as the on-call's superuser (DB_USER=ops) puts its requests on the
#   slots Postgres reserves for administrators while the export keeps every normal one.
# Shell builtins only, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T api sh -s <<'EOS'
stale=192.0.2.44
while read -r address names; do
    case $address in ''|\#*|"$stale") continue ;; esac
    for name in $names; do
        case $name in
            db|db.catalog.internal)
                echo "/etc/hosts pins db to $address" >&2
                exit 1 ;;
        esac
    done
done < /etc/hosts
host= user=
while IFS='=' read -r key value; do
    case $key in
        DB_HOST) host=$value ;;
        DB_USER) user=$value ;;
    esac
done < /etc/api/api.env
case $host in
    db|db.catalog.internal) ;;
    *) echo "/etc/api/api.env has DB_HOST=$host instead of the name db" >&2; exit 1 ;;
esac
[ "$user" = api ] && exit 0
echo "/etc/api/api.env has DB_USER=$user instead of api" >&2
exit 1
EOS
