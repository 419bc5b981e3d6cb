#!/usr/bin/env bash
# Fault: the new box's provisioning created /var/lib/nginx as root with mode 0700. nginx's
# workers (www-data) spool every request body over client_body_buffer_size (16 KB) to
# /var/lib/nginx/body, and cannot even enter /var/lib/nginx: every upload but the tiniest gets a
# 500 from nginx ("open() ... failed (13: Permission denied)"). nginx fixes the owner of body/
# itself at every start, never its parent, so a restart does not help. Then members try their
# uploads. Everything that runs in a container goes over stdin.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_BREAK'
set -e
chown root:root /var/lib/nginx
chmod 0700 /var/lib/nginx
touch -d "$(date -d 'yesterday 23:40:52')" /var/lib/nginx
EOF_BREAK
docker compose exec -T users sh -s < faults/member-uploads.sh
