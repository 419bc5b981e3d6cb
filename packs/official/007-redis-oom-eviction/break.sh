#!/usr/bin/env bash
# The "memory diet" change: Redis capped small and allowed to evict any key. It was applied
# live and written back to redis.conf, so a restart keeps it.
set -euo pipefail
docker compose exec -T redis redis-cli CONFIG SET maxmemory 8mb
docker compose exec -T redis redis-cli CONFIG SET maxmemory-policy allkeys-lru
docker compose exec -T redis redis-cli CONFIG REWRITE
