#!/usr/bin/env bash
# Guard: Sidekiq still works with at least two threads. Its process title says how many it
# runs ("sidekiq 6.4.1  [0 of 5 busy]"). One thread makes every job wait behind the slowest
# (a digest run, a big email batch), so notifications fall behind for good. When no Sidekiq
# runs at all the guard passes: the check, which needs a job processed, fails then anyway.
# Shell builtins only, the logic on stdin: a trainee's `ps` shows nothing of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
for proc in /proc/[0-9]*; do
    title=
    read -r title < "$proc/cmdline" 2>/dev/null   # no newline at its end: status 1, title set
    case $title in
        "sidekiq "*" of "*" busy]"*)
            threads=${title#* of }
            threads=${threads%% busy]*}
            case $threads in ''|*[!0-9]*) continue ;; esac
            [ "$threads" -ge 2 ] && exit 0
            echo "sidekiq runs $threads thread(s)" >&2
            exit 1 ;;
    esac
done
exit 0
EOF_FORUM
