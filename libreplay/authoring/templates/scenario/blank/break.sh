#!/usr/bin/env bash
# The placeholder fault: a restore run as root left the spool owned by root, so the app (user
# orders) cannot store an order. Put your incident's break here: what changed, done the way it
# happened. The script goes over stdin (`sh -s`), so nothing of it shows in the trainee's `ps`.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF_BREAK'
chown -R root:root /var/spool/orders
EOF_BREAK
