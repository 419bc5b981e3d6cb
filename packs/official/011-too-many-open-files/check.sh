#!/usr/bin/env bash
# Fixed means: the uploads process holds a steady number of descriptors (a leak eats any
# limit, so a raised limit alone must not pass), and a peak-sized burst of parallel uploads
# all succeed.
# The part that runs in the container goes over stdin (sh -s), not as an argument: the
# trainee's `ps` there shows `sh -s`, never this script, its comments or its thresholds
# (docs/writing-scenarios.md, "Checks the trainee cannot read").
set -euo pipefail
docker compose exec -T uploads sh -s <<'EOF'
pid=$(cat /run/uploads.pid) && [ -d "/proc/$pid" ] || { echo "uploads is not running" >&2; exit 1; }
before=$(ls "/proc/$pid/fd" | wc -l)
sleep 3
after=$(ls "/proc/$pid/fd" | wc -l)
[ "$(cat /run/uploads.pid)" = "$pid" ] || { echo "uploads restarted while sampled" >&2; exit 1; }
# Idle it holds ~100 (one per shard); a burst of the web tier adds ~2 per upload in flight.
if [ "$after" -gt 1024 ] || [ "$after" -gt $((before + 100)) ]; then
    echo "uploads holds $after descriptors ($before 3 s ago)" >&2
    exit 1
fi
EOF
docker compose exec -T web upload-burst 24
