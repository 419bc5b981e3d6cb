#!/usr/bin/env bash
# Guard: the forum's own upload limit still refuses a 100 MB file. Raising max_upload_kb (a site
# setting, in the site_settings table, default in the app's code) to make room is the wrong
# lever: the app already allows 10 MB, the photos are smaller, and a limit of gigabytes lets
# one member fill the uploads disk. Shell builtins and SQL over stdin: `ps` shows only psql.
# Passes when Postgres does not answer (a restart): nothing is known then.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
value=$(echo "SELECT value FROM site_settings WHERE name = 'max_upload_kb'" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -d forum 2>/dev/null) || exit 0
where="site setting max_upload_kb"
if [ -z "$value" ]; then
    # No row: the app's default, from its code.
    where="default of max_upload_kb in /var/www/forum/lib/forum.rb"
    while IFS= read -r line; do
        case $line in
            *'"max_upload_kb"'*'=>'*)
                value=${line#*=>}
                value=${value#*\"}
                value=${value%%\"*}
                break ;;
        esac
    done < /var/www/forum/lib/forum.rb
fi
case $value in ''|*[!0-9]*) exit 0 ;; esac
value=${value#"${value%%[!0]*}"}
[ -n "$value" ] && [ ${#value} -le 9 ] && [ "$value" -lt 102400 ] && exit 0
echo "$where is ${value:-0} KB" >&2
exit 1
EOS
