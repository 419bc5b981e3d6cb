#!/usr/bin/env bash
# Guard: nginx's workers do not run as root. With `user root;` in nginx.conf the workers can
# write the root-owned /var/lib/nginx, so uploads go through (the body-temp-denied fault's
# shortcut), but every request is then handled by root: one bug in a module, one path a request
# can steer, and it is the whole box. The master runs as root by design; only workers count.
# Reads /proc with shell builtins only: `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
# A worker is an nginx process whose parent is nginx too (the master).
for proc in /proc/[0-9]*; do
    read -r name 2>/dev/null < "$proc/comm" || continue
    [ "$name" = nginx ] || continue
    parent= uid=
    while read -r field value rest; do
        case $field in
            PPid:) parent=$value ;;
            Uid:) uid=$value ;;
        esac
    done 2>/dev/null < "$proc/status"
    read -r parent_name 2>/dev/null < "/proc/$parent/comm" || continue
    [ "$parent_name" = nginx ] || continue
    [ "$uid" = 0 ] && { echo "an nginx worker (pid ${proc#/proc/}) runs as root" >&2; exit 1; }
done
exit 0
EOS
