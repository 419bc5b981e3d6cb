#!/usr/bin/env bash
# The reference fix, for either fault (safe to run twice, and on a healthy box):
# - the site's server block gets back the app's upload limit, client_max_body_size 10m (the
#   forum allows 10240 KB, max_upload_kb), when it has none;
# - /var/lib/nginx is made enterable again for nginx's workers (0755, as the package makes it);
# then nginx checks its configuration and reloads.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FIX'
set -e
conf=/etc/nginx/sites-available/forum
grep -q 'client_max_body_size' "$conf" || sed -i '/^ *server_name /a\    client_max_body_size 10m;' "$conf"
chmod 0755 /var/lib/nginx
nginx -t 2>/dev/null
nginx -s reload 2>/dev/null
sleep 1
EOF_FIX
