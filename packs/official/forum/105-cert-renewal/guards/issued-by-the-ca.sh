#!/usr/bin/env bash
# Guard: a certificate the forum serves that has not expired is one the CA issued: the CA
# knows its serial number. A self-signed certificate, or one made by hand, "works" for curl -k
# and for nobody else. The expired one of the broken stack is left to the check.
# Run from the CA's side, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T acme sh -s <<'EOS'
served=$(timeout 5 openssl s_client -connect forum.example:443 -servername forum.example </dev/null 2>/dev/null |
    openssl x509 2>/dev/null) || exit 0
[ -n "$served" ] || exit 0
printf '%s\n' "$served" | openssl x509 -noout -checkend 0 >/dev/null || exit 0
serial=$(printf '%s\n' "$served" | openssl x509 -noout -serial)
serial=${serial#serial=}
curl -fsS -m 2 --cacert /etc/pebble/certs/acme.pem -o /dev/null \
    "https://localhost:15000/cert-status-by-serial/$serial" && exit 0
echo "the certificate served (serial $serial) was not issued by the CA" >&2
exit 1
EOS
