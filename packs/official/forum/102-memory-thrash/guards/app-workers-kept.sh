#!/usr/bin/env bash
# Guard: unicorn still runs at least two workers. One worker fits in any box, but then every
# slow request (a big topic, an upload) holds up everyone behind it, and a worker that dies or
# is recycled takes the whole site with it until the master has forked another. A worker that
# was just OOM-killed is back within a second, so a count below two is looked at twice, 2 s
# apart. When no unicorn master runs at all, or it runs with no worker yet (it is loading the
# app before it forks them: a restart, the hold's own), the guard passes: it cannot tell, and
# the check fails then anyway.
# Shell builtins only, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
count() {
    master=0 workers=0
    for proc in /proc/[0-9]*; do
        title=
        read -r title < "$proc/cmdline" 2>/dev/null   # no newline at its end: status 1, title set
        case $title in
            "unicorn master"*) master=1 ;;
            "unicorn worker["*) workers=$((workers + 1)) ;;
        esac
    done
}
count
[ "$master" -eq 0 ] || [ "$workers" -eq 0 ] || [ "$workers" -ge 2 ] && exit 0
sleep 2
count
[ "$master" -eq 0 ] || [ "$workers" -eq 0 ] || [ "$workers" -ge 2 ] && exit 0
echo "unicorn runs $workers worker(s)" >&2
exit 1
EOF_FORUM
