#!/usr/bin/env bash
# Guard: the forum still sends email. disable_emails (a site setting, in the site_settings
# table) set to 'yes' or 'non-staff' makes the queue drain by skipping the notifications.
# Passes when Postgres does not answer (a restart): nothing is known then.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
value=$(echo "SELECT value FROM site_settings WHERE name = 'disable_emails'" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -d forum 2>/dev/null) || exit 0
case $value in
    ''|no) exit 0 ;;
esac
echo "disable_emails is '$value'" >&2
exit 1
EOS
