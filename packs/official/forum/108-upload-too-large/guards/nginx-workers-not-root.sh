#!/usr/bin/env bash
# Guard: nginx's workers do not run as root. With `user root;` in nginx.conf the workers can
# write the root-owned /var/lib/nginx, so uploads go through (the body-temp-denied fault's
# shortcut), but every request is then handled by root: one bug in a module, one path a request
# can steer, and it is the whole box. The master runs as root by design; only workers count.
# Reads /proc with shell builtins only: `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
# A worker's title is "nginx: worker process"; one that "is shutting down" (after a reload,
# finishing its open requests, taking no new one) no longer counts.
for proc in /proc/[0-9]*; do
    title=
    read -r title < "$proc/cmdline" 2>/dev/null  # no newline at its end: status 1, title set
    case $title in
        "nginx: worker process is shutting down"*) continue ;;
        "nginx: worker process"*) ;;
        *) continue ;;
    esac
    while read -r field real rest; do
        if [ "$field" = Uid: ]; then
            [ "$real" = 0 ] && { echo "an nginx worker (pid ${proc#/proc/}) runs as root" >&2; exit 1; }
            break
        fi
    done 2>/dev/null < "$proc/status"
done
exit 0
EOS
