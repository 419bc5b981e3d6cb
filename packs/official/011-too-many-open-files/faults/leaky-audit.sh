#!/usr/bin/env bash
# Storage team turns on the background checksum audit; it opens every stored file on each
# pass and never closes any. Within seconds the process sits at its open-files limit.
set -euo pipefail
docker compose exec -T uploads sh -c '
    sed -i "s/^CHECKSUM_AUDIT=.*/CHECKSUM_AUDIT=on/" /etc/default/uploads
    old=$(cat /run/uploads.pid)
    kill "$old"
    for _ in $(seq 1 120); do
        pid=$(cat /run/uploads.pid 2>/dev/null || true)
        if [ -n "$pid" ] && [ "$pid" != "$old" ] && [ -d /proc/$pid ] && [ "$(ls /proc/$pid/fd | wc -l)" -ge 4000 ]; then
            exit 0
        fi
        sleep 0.5
    done
    echo "leaky-audit.sh: the audit did not exhaust the descriptors" >&2
    exit 1'
