#!/usr/bin/env bash
# Fault: the new box's nginx site config came from its provisioning's template, which has no
# client_max_body_size: nginx's default of 1 MB applies, and every photo gets a 413 from nginx
# before the app (which allows 10 MB) sees it. Then members try their uploads.
# Everything that runs in a container goes over stdin.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_BREAK'
set -e
conf=/etc/nginx/sites-available/forum
{
    echo '# Deployed by the new box'"'"'s provisioning (role nginx_site, template forum.conf.j2).'
    grep -v -e client_max_body_size -e '^# Deployed by' "$conf"
} > /tmp/.site && cat /tmp/.site > "$conf" && rm -f /tmp/.site
touch -d "$(date -d 'yesterday 23:41:07')" "$conf"
nginx -s reload 2>/dev/null
sleep 1
EOF_BREAK
docker compose exec -T users sh -s < faults/member-uploads.sh
