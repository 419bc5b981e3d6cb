#!/usr/bin/env bash
# Back to what fits in the box's 640 MB with room to spare: 3 unicorn workers (about 95 MB
# each with the renderer) and 5 Sidekiq threads, in the file the supervisor reads before every
# start; then restart both so that they read it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
set -eu
sed -i -e 's/^FORUM_UNICORN_WORKERS=.*/FORUM_UNICORN_WORKERS=3/' \
       -e 's/^FORUM_SIDEKIQ_CONCURRENCY=.*/FORUM_SIDEKIQ_CONCURRENCY=5/' /etc/forum/forum.env
forumctl restart unicorn
forumctl restart sidekiq || forumctl restart sidekiq
EOF_FORUM
