#!/usr/bin/env bash
# The reference fix: the forum's nginx takes each client's address from X-Forwarded-For, and
# believes it only from the load balancer's address; the limit stays as it is. Safe to run twice.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
set -e
conf=/etc/nginx/conf.d/forum-common.conf
lb=$(getent hosts lb | awk '{print $1}')
[ -n "$lb" ]
sed -i '/^set_real_ip_from /d; /^real_ip_header /d' "$conf"
printf '\n# The load balancer (lb) tells us the client: believe it, and only it.\nset_real_ip_from %s;\nreal_ip_header X-Forwarded-For;\n' "$lb" >> "$conf"
nginx -t -q
nginx -s reload 2>/dev/null
EOF_FORUM
