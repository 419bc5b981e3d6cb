#!/usr/bin/env bash
# The reference fix: a new SMTP password for the forum's login at mailhost (its API, with the
# account's key from /root/.mailhostrc), the same password as FORUM_SMTP_PASSWORD in
# /etc/forum/forum.env, then sidekiq (the process that sends the mail) restarted so that it reads
# it. The queue is left alone: it drains by itself. Safe to run twice (each run sets a fresh password).
set -euo pipefail
docker compose exec -T forum bash -s <<'EOF'
set -euo pipefail
. /root/.mailhostrc
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
curl -fsS --user "api:$MAILHOST_API_KEY" -X PUT --data-urlencode "password=$password" \
    "$MAILHOST_API/domains/forum.example/credentials/postmaster@forum.example" >/dev/null
sed -i "s/^FORUM_SMTP_PASSWORD=.*/FORUM_SMTP_PASSWORD=$password/" /etc/forum/forum.env
forumctl restart sidekiq
EOF
