#!/usr/bin/env bash
# Guard: Redis does not run as root. Started as root (by hand, or with the box's start script
# changed), it can write the root-owned data directory, so the saves succeed, but a Redis that
# anyone on the box can talk to may then write files anywhere (CONFIG SET dir, then a save: a
# classic way in), and the directory's owner is still wrong for the next normal start.
# Reads /proc with shell builtins only: `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
for proc in /proc/[0-9]*; do
    read -r name 2>/dev/null < "$proc/comm" || continue
    [ "$name" = redis-server ] || continue
    while read -r field real rest; do
        if [ "$field" = Uid: ]; then
            [ "$real" = 0 ] && { echo "redis-server (pid ${proc#/proc/}) runs as root" >&2; exit 1; }
            break
        fi
    done 2>/dev/null < "$proc/status"
done
exit 0
EOS
