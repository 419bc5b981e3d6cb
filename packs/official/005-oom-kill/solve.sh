#!/usr/bin/env bash
# Shrink the start-up cache so it fits under the container's memory limit (256 MiB)
# with room for the interpreter; the supervisor's next start warms it and stays up.
set -euo pipefail
docker compose exec -T app sed -i 's/^size_mb = .*/size_mb = 128/' /etc/catalog/catalog.conf
