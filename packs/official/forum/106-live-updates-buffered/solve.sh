#!/usr/bin/env bash
# The reference fix: buffering off again for the long-poll's location only (/message-bus/ in
# /etc/nginx/sites-available/forum), nginx checked and reloaded. The rest of the site keeps its
# buffering (and the compression). Safe to run twice.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
set -e
site=/etc/nginx/sites-available/forum
if ! sed -n '/location \/message-bus\/ {/,/}/p' "$site" | grep -q 'proxy_buffering off;'; then
    sed -i '/location \/message-bus\/ {/a\        proxy_buffering off;' "$site"
fi
nginx -t -q
nginx -s reload 2>/dev/null
EOF_FORUM
