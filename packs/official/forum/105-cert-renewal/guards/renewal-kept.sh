#!/usr/bin/env bash
# Guard: renewal stays automatic and with the forum's CA. A certificate renewed once by hand
# with the schedule switched off expires again in 90 days; certbot pointed at another server
# (--staging, a test CA) renews nothing members' browsers trust.
# - cron still runs `certbot ... renew` (any crontab or /etc/cron.d file, not a dry run);
# - every renewal configuration, and cli.ini, name https://acme:14000/dir as the server, and
#   none asks for test certificates.
# Shell builtins only, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
scheduled=no
for file in /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/*; do
    [ -f "$file" ] || continue
    while read -r line; do
        case $line in
            \#*) ;;
            *--dry-run*|*--staging*|*--test-cert*|*--server*) ;;
            *certbot*renew*) scheduled=yes ;;
        esac
    done < "$file"
done
[ $scheduled = yes ] || { echo "no cron job runs certbot renew any more" >&2; exit 1; }

trim() {  # the text without its leading and trailing blanks
    text=$1
    text=${text#"${text%%[![:space:]]*}"}
    printf '%s' "${text%"${text##*[![:space:]]}"}"
}
server_ok() {  # FILE: its server lines name the CA; no staging or test certificates
    while IFS= read -r line; do
        case $line in *=*) ;; *) continue ;; esac
        key=$(trim "${line%%=*}")
        value=$(trim "${line#*=}")
        case $key in
            server) [ "$value" = https://acme:14000/dir ] || { echo "$1: server = $value" >&2; return 1; } ;;
            staging|test_cert|test-cert|dry_run|dry-run)
                case $value in [Ff]alse|'') ;; *) echo "$1: $key = $value" >&2; return 1 ;; esac ;;
        esac
    done < "$1"
}
[ -f /etc/letsencrypt/cli.ini ] && { server_ok /etc/letsencrypt/cli.ini || exit 1; }
found=no
for conf in /etc/letsencrypt/renewal/*.conf; do
    [ -f "$conf" ] || continue
    found=yes
    server_ok "$conf" || exit 1
done
[ $found = yes ] || { echo "no certificate is set up for renewal" >&2; exit 1; }
exit 0
EOS
