#!/usr/bin/env bash
# A client that trusts only the shop's internal CA must complete the TLS handshake with the
# edge and get the storefront through it. No -k: an expired or mismatched certificate fails.
set -euo pipefail
docker compose exec -T client curl -fsS -m 2 -o /dev/null --cacert /ca.pem https://edge/
