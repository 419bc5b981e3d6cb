#!/usr/bin/env bash
# A peak-sized burst of parallel uploads must all succeed.
set -euo pipefail
docker compose exec -T web upload-burst 24
