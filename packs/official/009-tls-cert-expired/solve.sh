#!/usr/bin/env bash
# Install the renewed certificate and its key where nginx reads them, check, reload.
set -euo pipefail
docker compose exec -T edge sh -c '
    cp -L /etc/certrenew/live/edge/fullchain.pem /etc/nginx/tls/edge.crt &&
    cp -L /etc/certrenew/live/edge/privkey.pem /etc/nginx/tls/edge.key &&
    chmod 0600 /etc/nginx/tls/edge.key &&
    nginx -t && nginx -s reload'
