#!/usr/bin/env bash
# Fixed when the forum serves, over HTTPS, a certificate its CA issued that is good for more
# than 30 days (certbot's own renewal window), verified the way members' browsers verify it -
# against the CA's root, fetched fresh from the CA itself, never a file on the forum box - and
# when the next renewal will work: `certbot renew --dry-run` on the box goes through a real
# HTTP-01 challenge with the CA.
# The logic travels on stdin: a trainee's `ps` shows `sh -s` and the commands it starts.
set -euo pipefail
docker compose exec -T acme sh -s <<'EOS'
set -eu
root=$(mktemp)
trap 'rm -f "$root"' EXIT
curl -fsS -m 2 --cacert /etc/pebble/certs/acme.pem -o "$root" https://localhost:15000/roots/0
curl -fsS -m 3 --cacert "$root" -A 'Mozilla/5.0 (compatible; uptime-monitor)' -o /dev/null \
    https://forum.example/latest
timeout 5 openssl s_client -connect forum.example:443 -servername forum.example </dev/null 2>/dev/null |
    openssl x509 -noout -checkend 2592000 >/dev/null
EOS
docker compose exec -T forum sh -s <<'EOS'
# another certbot (cron's, the trainee's) holds the lock for a second or two: wait for it
tries=0
while [ $tries -lt 6 ]; do
    if out=$(certbot renew --dry-run --no-random-sleep-on-renew 2>&1); then
        exit 0
    fi
    case $out in
        *"Another instance of Certbot is already running"*) sleep 1 ;;
        *) exit 1 ;;
    esac
    tries=$((tries + 1))
done
exit 1
EOS
