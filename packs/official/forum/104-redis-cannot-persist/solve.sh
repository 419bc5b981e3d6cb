#!/usr/bin/env bash
# The reference fix: give Redis its data directory back (owner redis, as the package made it),
# then ask for a background save and wait until it has succeeded: from then on Redis takes
# writes again, Sidekiq fetches, replies post. Safe to run twice.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FIX'
chown -R redis:redis /var/lib/redis
chmod 0750 /var/lib/redis
i=0
while [ $i -lt 50 ]; do
    case $(echo "INFO persistence" | redis-cli) in
        *rdb_bgsave_in_progress:1*) ;;
        *rdb_last_bgsave_status:ok*) [ $i -gt 0 ] && exit 0 ;;
    esac
    [ $i -eq 0 ] && echo BGSAVE | redis-cli >/dev/null
    sleep 0.2
    i=$((i + 1))
done
echo "redis: the background save did not succeed" >&2
exit 1
EOF_FIX
