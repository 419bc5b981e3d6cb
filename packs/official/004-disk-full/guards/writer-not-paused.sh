#!/usr/bin/env bash
# Guard: nothing that writes to the app's data volume is merely paused. `kill -STOP` on the
# trace loop frees no byte and stops nothing for good: the loop resumes with the next
# SIGCONT and fills the volume again. The running writer (the fault itself) passes; the
# stopped one does not, so only ending it counts.
# Shell builtins only, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T app sh -s <<'EOF'
for proc in /proc/[0-9]*; do
    read -r stat < "$proc/stat" 2>/dev/null || continue
    state=${stat##*) }
    case ${state%% *} in T|t) ;; *) continue ;; esac
    for fd in "$proc"/fd/*; do
        case $(readlink "$fd" 2>/dev/null) in
            /var/lib/app/*)
                echo "process ${proc#/proc/} is stopped with a file of /var/lib/app open" >&2
                exit 1 ;;
        esac
    done
done
exit 0
EOF
