#!/usr/bin/env bash
# Guard: Postgres still keeps its data on the data disk. Moving the cluster to the root
# filesystem (a copy elsewhere, /var/lib/postgresql pointed at it) frees the disk, but the
# root filesystem is the container's own: the next rebuild of the box throws it away with
# every post. Looked at: the data directory the box starts Postgres with, and the one every
# running postmaster was given (-D), each resolved through its links; both must be on the
# mounted data disk. (A postmaster's working directory would say it directly, but reading
# another user's /proc/PID/cwd needs CAP_SYS_PTRACE, which the box does not give root.)
# The logic on stdin: a trainee's `ps` shows at most a `tr` or a `realpath`.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
mounted=0
while read -r device point rest; do
    [ "$point" = /srv/data ] && mounted=1
done < /proc/mounts
bad=
on_disk() {
    real=$(realpath -e "$1" 2>/dev/null) || return 0   # gone: Postgres cannot run there
    case $real in /srv/data/*) [ "$mounted" = 1 ] && return 0 ;; esac
    bad=$real
}
on_disk /var/lib/postgresql/15/main
for proc in /proc/[0-9]*; do
    comm=
    read -r comm < "$proc/comm" 2>/dev/null
    [ "$comm" = postgres ] || continue
    args=$(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null) || continue
    case $args in
        /*" -D "*) dir=${args#* -D } && on_disk "${dir%% *}" ;;
    esac
done
[ -z "$bad" ] && exit 0
echo "postgres's data directory is $bad" >&2
exit 1
EOF_FORUM
