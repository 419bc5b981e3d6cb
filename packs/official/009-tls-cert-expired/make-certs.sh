#!/bin/sh
# Build-time PKI: an internal CA, the edge's previous certificate (already expired) and its
# renewal (valid), laid out like an ACME client's archive/live directories.
set -eu
work=/tmp/certs
archive=/var/lib/certrenew/archive/edge
live=/etc/certrenew/live/edge
mkdir -p "$work/ca/issued" "$archive" "$live" /etc/nginx/tls
touch "$work/ca/index.txt"
echo 1000 > "$work/ca/serial"
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

openssl req -x509 -newkey rsa:2048 -nodes -days 7300 -subj "/O=Shop Internal/CN=Shop Internal CA" \
    -keyout "$work/ca/ca.key" -out "$work/ca/ca.crt" 2>/dev/null

issue() {  # issue N START END: key and certificate number N of the edge
    openssl req -new -newkey rsa:2048 -nodes -subj "/O=Shop/CN=edge.shop.internal" \
        -keyout "$archive/privkey$1.pem" -out "$work/edge$1.csr" 2>/dev/null
    openssl ca -batch -config "$work/openssl-ca.cnf" -startdate "$2" -enddate "$3" \
        -in "$work/edge$1.csr" -out "$archive/cert$1.pem" 2>/dev/null
    openssl x509 -in "$archive/cert$1.pem" -out "$archive/cert$1.pem"   # drop the text dump
    cat "$archive/cert$1.pem" > "$archive/fullchain$1.pem"
}
issue 1 "$(stamp '-91 days')" "$(stamp '-1 day')"
issue 2 "$(stamp '-31 days')" "$(stamp '+3650 days')"
ln -s ../../../../var/lib/certrenew/archive/edge/fullchain2.pem "$live/fullchain.pem"
ln -s ../../../../var/lib/certrenew/archive/edge/privkey2.pem "$live/privkey.pem"
chmod 0600 "$archive"/privkey*.pem

# Healthy state: the edge serves the current certificate.
cp "$archive/fullchain2.pem" /etc/nginx/tls/edge.crt
cp "$archive/privkey2.pem" /etc/nginx/tls/edge.key
chmod 0600 /etc/nginx/tls/edge.key

cp "$work/ca/ca.crt" /ca.pem
cp "$work/ca/ca.crt" /usr/local/share/ca-certificates/shop-internal-ca.crt
update-ca-certificates >/dev/null 2>&1
