#!/usr/bin/env bash
# Guard: the segment store still spreads uploads over all 96 shards. Cutting SHARDS so the
# idle process needs fewer descriptors makes a low limit look sufficient; it is not a fix.
# Passes while no uploads process is up to ask: a restart in progress is not a loss.
set -euo pipefail
docker compose exec -T uploads sh -s <<'EOF'
running() {  # the pid file's process, alive (an exiting process has already let its files go)
    [ "$(cat /run/uploads.pid 2>/dev/null)" = "$1" ] || return 1
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
shards() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c '/srv/uploads/segments/shard-' || true; }

pid=$(cat /run/uploads.pid 2>/dev/null) || exit 0
for _ in 1 2; do
    running "$pid" || exit 0
    count=$(shards "$pid")
    [ "$count" -ge 96 ] && exit 0
    sleep 0.2  # a process that was exiting while counted shows it now
done
running "$pid" || exit 0
echo "the uploads process writes to $count shards, not 96" >&2
exit 1
EOF
