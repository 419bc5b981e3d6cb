#!/usr/bin/env bash
# The reference fix, for either fault: the CA's HTTP-01 request must reach certbot's webroot
# on port 80 again, with the redirect to HTTPS and the dotfile rule kept; then renew now
# (the deploy hook reloads nginx) and prove the next renewal works.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
set -eu
site=/etc/nginx/sites-available/forum
# The redirect at server level runs before nginx picks a location: it goes back into
# `location /`, where the challenge's own location can win.
if grep -q '^    return 301 https://\$host\$request_uri;$' "$site"; then
    awk '$0 == "    return 301 https://$host$request_uri;" {
             print "    location / {"; print "        return 301 https://$host$request_uri;"; print "    }"; next }
         { print }' "$site" > "$site.new"
    cat "$site.new" > "$site"
    rm "$site.new"
fi
# A regex location (the dotfile rule) wins over a plain prefix: ^~ makes the challenge's
# prefix final.
sed -i 's|location /\.well-known/acme-challenge/ {|location ^~ /.well-known/acme-challenge/ {|' "$site"
nginx -t -q
nginx -s reload
sleep 1

certbot_run() {  # certbot ARGS..., waiting out another certbot's lock (cron's)
    tries=0
    while :; do
        if out=$(certbot "$@" --no-random-sleep-on-renew 2>&1); then
            echo "$out"
            return 0
        fi
        tries=$((tries + 1))
        case $out in
            *"Another instance of Certbot is already running"*) [ $tries -lt 10 ] && { sleep 1; continue; } ;;
        esac
        echo "$out" >&2
        return 1
    done
}
certbot_run renew
certbot_run renew --dry-run
nginx -s reload
EOS
