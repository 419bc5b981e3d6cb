#!/usr/bin/env bash
# Only keys with a TTL (the cache) may be evicted; sessions have none. Give the cache its
# room back too, and persist both to redis.conf.
set -euo pipefail
docker compose exec -T redis redis-cli CONFIG SET maxmemory-policy volatile-lru
docker compose exec -T redis redis-cli CONFIG SET maxmemory 64mb
docker compose exec -T redis redis-cli CONFIG REWRITE
