#!/usr/bin/env bash
# Sessions must survive cache churn: log in, prefill the cache like a deploy does, and the
# sessions must still be valid afterwards.
set -euo pipefail

login() {
    docker compose exec -T web curl -fsS -m 2 -o /dev/null -c - -d "user=$1" http://localhost/login \
        | awk '$6 == "session" { print $7 }'
}

tokens=()
for user in check-ana check-bo check-chen; do
    token=$(login "$user")
    [ -n "$token" ] || { echo "login for $user gave no session cookie" >&2; exit 1; }
    tokens+=("$token")
done
sleep 1.2   # Redis' LRU clock ticks once a second: make the sessions visibly older than the churn
docker compose exec -T cache-warmer python3 /opt/shop/cache_warmer.py --burst 6000
for token in "${tokens[@]}"; do
    if ! docker compose exec -T web curl -fsS -m 2 -o /dev/null -b "session=$token" http://localhost/me; then
        echo "session ${token:0:8}... did not survive the cache churn" >&2
        exit 1
    fi
done
echo "sessions survived the cache churn"
