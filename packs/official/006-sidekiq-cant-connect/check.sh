#!/usr/bin/env bash
# Jobs are processed: enqueue a receipt job with the shop's own Redis settings and wait up
# to 10 s for the Sidekiq worker to have done it.
set -euo pipefail
docker compose exec -T app sh -c 'set -a; . /etc/shop/web.env; set +a; exec ruby /srv/shop/bin/smoke-receipt 10'
