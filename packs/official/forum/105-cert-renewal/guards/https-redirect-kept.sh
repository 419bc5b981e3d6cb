#!/usr/bin/env bash
# Guard: plain HTTP still sends the forum's pages to HTTPS. Deleting the redirect (instead of
# letting the challenge through before it) gets the certificate renewed, but serves logins
# and sessions over plain HTTP again. When nothing answers on port 80 at all (nginx
# restarting), that is the check's business, not this guard's.
# Run from the CA's side, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T acme sh -s <<'EOS'
got=$(curl -s -m 3 -A 'Mozilla/5.0 (compatible; uptime-monitor)' -o /dev/null \
    -w '%{http_code} %{redirect_url}' http://forum.example/latest) || true
case $got in
    000*) exit 0 ;;
    30[1278]\ https://forum.example/latest) exit 0 ;;
esac
echo "http://forum.example/latest answers '$got' instead of a redirect to HTTPS" >&2
exit 1
EOS
