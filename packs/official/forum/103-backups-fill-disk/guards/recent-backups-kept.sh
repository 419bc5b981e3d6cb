#!/usr/bin/env bash
# Guard: the newest good backup from before the incident (last night's: the newest
# archive the break left, named in .break-state) is still there, whole. Deleting every backup,
# or emptying the newest to free its space, leaves the forum with nothing to restore from if
# the clean-up goes wrong. Newer backups made since (the check runs the job) do not replace it:
# a retention that keeps several of the newest backups keeps it. Before the break: nothing to
# protect yet.
# The logic on stdin, the name in the environment: a trainee's `ps` shows neither.
set -euo pipefail
read -r name size _ 2>/dev/null <"$SCENARIO_DIR/.break-state" || exit 0
docker compose exec -T -e NAME="$name" -e SIZE="$size" forum sh -s <<'EOF_FORUM'
file=/var/backups/forum/$NAME
[ -f "$file" ] || { echo "$NAME is gone" >&2; exit 1; }
[ "$(stat -c %s "$file")" = "$SIZE" ] && exit 0
echo "$NAME is no longer $SIZE bytes" >&2
exit 1
EOF_FORUM
