#!/usr/bin/env bash
# Guard: nothing that writes to the app's data volume is merely paused. `kill -STOP` on the
# trace loop frees no byte and stops nothing for good: the loop resumes with the next
# SIGCONT and fills the volume again. The running writer (the fault itself) passes; the
# stopped one does not, so only ending it counts.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF'
for proc in /proc/[0-9]*; do
    state=$(sed 's/.*) //' "$proc/stat" 2>/dev/null | cut -c1)
    case $state in T|t) ;; *) continue ;; esac
    if ls -l "$proc/fd" 2>/dev/null | grep -q ' -> /var/lib/app/'; then
        echo "process ${proc#/proc/} is stopped with a file of /var/lib/app open" >&2
        exit 1
    fi
done
exit 0
EOF
