#!/usr/bin/env bash
# The shop's database answers on TCP as the app's user and still holds the shop's orders
# (a fresh, empty cluster does not pass).
set -euo pipefail
count=$(docker compose exec -T db psql "postgresql://app:orders-2023@127.0.0.1:5432/shop?connect_timeout=2" \
    -Atc "SELECT count(*) FROM orders")
[ "$count" -ge 500 ]
