#!/bin/sh
# Runs inside `edge`, then is removed. Puts the edge back on the certificate it had before the
# renewal (which has since expired) and leaves the renewal's log as it looked: the new
# certificate was issued, its deploy hook never ran.
set -eu
archive=/var/lib/certrenew/archive/edge
cp "$archive/fullchain1.pem" /etc/nginx/tls/edge.crt
cp "$archive/privkey1.pem" /etc/nginx/tls/edge.key
installed=$(openssl x509 -noout -startdate -in "$archive/cert1.pem" | cut -d= -f2)
touch -d "$installed" /etc/nginx/tls/edge.crt /etc/nginx/tls/edge.key
nginx -s reload

log_time() { date -u -d "$(openssl x509 -noout -startdate -in "$1" | cut -d= -f2) + $2 minutes" +%FT%TZ; }
not_after=$(openssl x509 -noout -enddate -in "$archive/cert2.pem" | cut -d= -f2)
{
    echo "$(log_time "$archive/cert2.pem" 0) certrenew[412]: edge: certificate expires in 30 days, renewing"
    echo "$(log_time "$archive/cert2.pem" 1) certrenew[412]: edge: issued serial $(openssl x509 -noout -serial -in "$archive/cert2.pem" | cut -d= -f2), not after $not_after"
    echo "$(log_time "$archive/cert2.pem" 1) certrenew[412]: edge: saved to /etc/certrenew/live/edge/fullchain.pem and privkey.pem"
    echo "$(log_time "$archive/cert2.pem" 1) certrenew[412]: edge: running deploy hook"
    echo "$(log_time "$archive/cert2.pem" 1) certrenew[412]: edge: deploy hook exited with status 127: /usr/local/lib/certrenew/hooks/edge-deploy: not found"
    echo "$(log_time "$archive/cert2.pem" 1) certrenew[412]: 1 renewed, 0 skipped, 1 deploy hook failed"
    for day in 7 14 21 28; do
        echo "$(log_time "$archive/cert2.pem" $((day * 1440))) certrenew[$((412 + day * 37))]: edge: certificate not due for renewal (expires $not_after)"
    done
} > /var/log/certrenew.log
