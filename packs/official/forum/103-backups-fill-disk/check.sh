#!/usr/bin/env bash
# Fixed = the data disk has room again, the forum takes posts, and the nightly backup works and
# keeps the disk that way:
#  1. the data disk has a quarter of its space free;
#  2. a post through the app (the ops test topic, as the admin) is accepted;
#  3. the backup job, run as cron runs it, succeeds. It is run when no run since the break is
#     known, when its settings or script changed since a failed run, and every 5 minutes;
#     never more often, so that a job that cannot prune does not fill the disk again. When and
#     how it last ended is kept in the session's copy of the scenario, on the host;
#  4. after it, the disk still has a quarter free, and the retention the job reads
#     (FORUM_BACKUP_KEEP, a number of backups) fits: the database plus that many backups and
#     the next night's new one stay under 80 % of the disk.
# What runs in a container goes over stdin (sh -s): the trainee's `ps` shows none of it.
set -euo pipefail
run_file="$SCENARIO_DIR/.backup-run"
last_at=0 last_rc=none
read -r last_at last_rc 2>/dev/null <"$run_file" || true
rc=0
docker compose exec -T -e LAST_AT="$last_at" -e LAST_RC="$last_rc" forum bash -s <<'EOF_FORUM' || rc=$?
# Exit: 0 fixed, 10 fixed and the job ran; 1 not fixed, 2 not fixed: the job ran and failed,
# 3 not fixed though the job ran and succeeded.
set -uo pipefail
dir=/var/backups/forum
room() {   # a quarter of the data disk free?
    read -r size_kb avail_kb <<<"$(df -Pk "$dir/" | awk 'NR == 2 { print $2, $4 }')"
    [ $((avail_kb * 4)) -ge "$size_kb" ] && return 0
    echo "data disk: $avail_kb KiB free of $size_kb" >&2
    return 1
}
room || exit 1
key=$(sed -n 's/^FORUM_API_KEY=//p' /etc/forum/users.env)
title='Ops: posting test'
topic=$(echo "SELECT id FROM topics WHERE title = '$title' ORDER BY id LIMIT 1" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -d forum 2>/dev/null) || {
    echo "postgres: not answering" >&2; exit 1; }
if [ -n "$topic" ]; then
    body="{\"topic_id\": $topic, \"raw\": \"Posting works: $(date -u +%H:%M:%S)\"}"
else
    body="{\"title\": \"$title\", \"category\": 6, \"raw\": \"Checking that the forum takes posts.\"}"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H "Api-Key: $key" -H 'Api-Username: sam' \
    -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:3000/posts.json)
[ "$code" = 200 ] || { echo "posting: HTTP $code" >&2; exit 1; }
now=$(date +%s) ran=0 fail=1
changed=$(stat -c %Y /etc/forum/forum.env /usr/local/bin/forum-backup | sort -n | tail -n 1)
if [ "$LAST_RC" = none ] || [ $((now - LAST_AT)) -ge 300 ] || { [ "$LAST_RC" != 0 ] && [ "$changed" -ge "$LAST_AT" ]; }; then
    /usr/local/bin/forum-backup >> /var/log/forum/backup.log 2>&1 || { echo "the backup job failed" >&2; exit 2; }
    ran=1 fail=3
fi
room || exit $fail
keep=$(set -a; . /etc/forum/forum.env >/dev/null 2>&1; echo "${FORUM_BACKUP_KEEP:-5}")
case $keep in ''|*[!0-9]*|0) echo "FORUM_BACKUP_KEEP=$keep is no number of backups" >&2; exit $fail ;; esac
newest=$(ls -1t "$dir"/forum-*.tar.gz 2>/dev/null | head -n 1)
[ -n "$newest" ] || { echo "no backup" >&2; exit $fail; }
backups_kb=$(du -skc "$dir"/forum-*.tar.gz | tail -n 1 | cut -f 1)
steady_kb=$((size_kb - avail_kb - backups_kb + (keep + 1) * $(stat -c %s "$newest") / 1024))
[ $((steady_kb * 5)) -le $((size_kb * 4)) ] || {
    echo "keeping $keep backups would use $steady_kb KiB of $size_kb" >&2; exit $fail; }
[ "$ran" = 1 ] && exit 10
exit 0
EOF_FORUM
now=$(date +%s)
case $rc in
    10 | 3) echo "$now 0" >"$run_file" ;;
    2) echo "$now 1" >"$run_file" ;;
esac
[ "$rc" = 0 ] || [ "$rc" = 10 ]
