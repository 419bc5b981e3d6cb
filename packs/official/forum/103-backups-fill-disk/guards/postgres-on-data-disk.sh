#!/usr/bin/env bash
# Guard: Postgres still keeps its data on the data disk. Moving the cluster to the root
# filesystem (a copy elsewhere, /var/lib/postgresql pointed at it) frees the disk, but the
# root filesystem is the container's own: the next rebuild of the box throws it away with
# every post. The running postmaster's working directory is its data directory. While no
# postmaster runs, the guard passes: the check fails then anyway.
# Shell builtins only, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
read -r pid < /var/lib/postgresql/15/main/postmaster.pid 2>/dev/null || exit 0
[ -d "/proc/$pid" ] || exit 0
data=$(readlink "/proc/$pid/cwd") || exit 0
mounted=0
while read -r device point rest; do
    [ "$point" = /srv/data ] && mounted=1
done < /proc/mounts
case $data in
    /srv/data/*) [ "$mounted" = 1 ] && exit 0 ;;
esac
echo "postgres runs from $data" >&2
exit 1
EOF_FORUM
