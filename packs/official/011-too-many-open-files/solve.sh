#!/usr/bin/env bash
# Both variants: a sane open-files limit and no leaking checksum audit in the service's
# settings, then restart the process (the supervisor brings it back with the new settings).
set -euo pipefail
docker compose exec -T uploads sh -c '
    sed -i -e "s/^NOFILE=.*/NOFILE=4096/" -e "s/^CHECKSUM_AUDIT=.*/CHECKSUM_AUDIT=off/" /etc/default/uploads
    kill "$(cat /run/uploads.pid)"
    sleep 1.5
    for _ in $(seq 1 20); do curl -fsS -m 1 -o /dev/null http://localhost/health && exit 0; sleep 0.5; done
    exit 1'
