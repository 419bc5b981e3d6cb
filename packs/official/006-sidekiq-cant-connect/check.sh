#!/usr/bin/env bash
# Jobs are processed: enqueue a receipt job with the shop's own Redis settings and wait up
# to 10 s for the Sidekiq worker to have done it.
# What runs in a container goes over stdin (sh -s), so the trainee's `ps` there never shows
# it (docs/writing-scenarios.md).
set -euo pipefail
# The hardening stays. Once redis's config file differs from the image's (the hardening
# wrote it; `docker diff` still lists it if someone reverts it by hand), the running server
# must refuse a client without the password: giving Sidekiq the credentials is the fix,
# dropping the password is not.
redis_changes=$(docker diff "$(docker compose ps -q redis)")
if grep -q ' /etc/redis/redis.conf$' <<<"$redis_changes"; then
    docker compose exec -T redis sh -s <<'EOF'
answer=$(redis-cli -h 127.0.0.1 ping 2>&1)
case $answer in *NOAUTH*) exit 0 ;; esac
echo "redis answers a PING without password with: $answer" >&2
exit 1
EOF
fi
docker compose exec -T app sh -s <<'EOF'
set -a; . /etc/shop/web.env; set +a; exec ruby /srv/shop/bin/smoke-receipt 10
EOF
