#!/usr/bin/env bash
# Guard: the segment store still spreads uploads over all 96 shards. Cutting SHARDS so the
# idle process needs fewer descriptors makes a low limit look sufficient; it is not a fix.
# Passes while no uploads process is up to ask: a restart in progress is not a loss.
# The logic on stdin, the counting in shell builtins: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T uploads sh -s <<'EOF'
running() {  # the pid file's process, alive (an exiting process has already let its files go)
    current=
    read -r current < /run/uploads.pid 2>/dev/null || true
    [ "$current" = "$1" ] || return 1
    read -r stat < "/proc/$1/stat" 2>/dev/null || return 1
    state=${stat##*) }
    case ${state%% *} in Z|X) return 1 ;; esac
}
shards() {
    n=0
    ls -l "/proc/$1/fd" 2>/dev/null | while read -r line; do
        case $line in *" -> /srv/uploads/segments/shard-"*) n=$((n + 1)); echo "$n" ;; esac
    done | tail -n 1
}

pid=
read -r pid < /run/uploads.pid 2>/dev/null || exit 0
for _ in 1 2; do
    running "$pid" || exit 0
    count=$(shards "$pid")
    [ "${count:-0}" -ge 96 ] && exit 0
    sleep 0.2  # a process that was exiting while counted shows it now
done
running "$pid" || exit 0
echo "the uploads process writes to ${count:-0} shards, not 96" >&2
exit 1
EOF
