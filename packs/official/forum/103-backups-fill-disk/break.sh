#!/usr/bin/env bash
# Six weeks ago someone asked for "two weeks of backups" and wrote FORUM_BACKUP_KEEP=14d. The
# nightly forum-backup still makes its archive, then dies on that value before it prunes, so
# every night's backup has stayed on the data disk it shares with Postgres. Built here:
#  - the setting, with the file's time set to that afternoon;
#  - members' photo uploads in rounds, each round followed by a real forum-backup run, so the
#    archives are real (pg_dump of the forum and the uploads) and grow week by week;
#  - one archive per night, newest first, back as far as the disk holds (named and dated as
#    cron's 03:17 runs made them); tonight's real run then fails for want of space;
#  - this morning's writes of the forum itself (the digest emails' log) take the last bytes,
#    until Postgres cannot extend a file; members' posts fail from then on;
#  - the backup log of the last nights, as cron wrote it.
# Runs once per session; a second run finds the disk full and only reports the state again.
# The guards' reference (the newest good backup, the forum's row counts) goes to
# $SCENARIO_DIR/.break-state, on the host, where nothing in the containers can change it.
set -euo pipefail
rm -f "$SCENARIO_DIR/.backup-run"   # the check's note of its last backup run: none since the break
state=$(docker compose exec -T forum bash -s <<'EOF_FORUM'
set -euo pipefail
dir=/var/backups/forum
log=/var/log/forum/backup.log
env_file=/etc/forum/forum.env
key=$(sed -n 's/^FORUM_API_KEY=//p' /etc/forum/users.env)
day() { date -u -d "$1 days ago" +%Y-%m-%d; }
avail_kb() { df -Pk "$dir/" | awk 'NR == 2 { print $4 }'; }
sql() { setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -v ON_ERROR_STOP=1 -d forum "$@"; }
report() {
    newest=$(ls -1t "$dir"/forum-*.tar.gz | head -n 1)
    # (Postgres may be restarting after a PANIC when a second run gets here: no counts then.)
    counts=$(echo "SELECT (SELECT count(*) FROM topics), (SELECT count(*) FROM posts), (SELECT count(*) FROM users),
                          (SELECT count(*) FROM notifications), (SELECT count(*) FROM email_logs)" | sql -F ' ') \
        || counts="0 0 0 0 0"
    echo "$(basename "$newest") $(stat -c %s "$newest") $counts"
}

if [ "$(ls "$dir" | wc -l)" -ge 20 ] && [ "$(avail_kb)" -lt 1024 ]; then
    report   # broken already: a second run changes nothing
    exit 0
fi

# The healthy box's own backups (the check's runs) make way for the nights built below.
rm -f "$dir"/forum-*.tar.gz

# The retention setting, as it was changed.
sed -i 's/^FORUM_BACKUP_KEEP=.*/# two weeks of nightly backups\nFORUM_BACKUP_KEEP=14d/' "$env_file"

# Members' photos, in five rounds; after each, the real backup job (its prune fails on "14d").
members=(mei lucas elena diego sofia hannah kwame tomasz amara jonas)
sizes=(412 377 455 298 501 366 433 390 347 472 318 489 405 361 444)
work=$(mktemp -d)
prune_error=
for round in 1 2 3 4 5; do
    for i in 0 1 2; do
        n=$(((round - 1) * 3 + i))
        photo="$work/IMG_2024$(printf '%02d%02d_%02d%02d%02d' $((3 + round)) $((3 + n)) $((9 + n % 11)) $((7 * n % 60)) $((13 * n % 60))).jpg"
        { printf '\377\330\377\340\000\020JFIF\000'; head -c $((sizes[n] * 1024)) /dev/urandom; printf '\377\331'; } > "$photo"
        curl -s -o /dev/null -H "Api-Key: $key" -H "Api-Username: ${members[n % 10]}" \
            -F "file=@$photo;type=image/jpeg" http://127.0.0.1:3000/uploads.json
        rm -f "$photo"
    done
    out=$(forum-backup 2>&1) || true
    [ -n "$prune_error" ] || prune_error=$(grep -m 1 'value too great' <<<"$out" || true)
    made=$(ls -1t "$dir"/forum-*.tar.gz | head -n 1)
    mv "$made" "$work/round-$round.tar.gz"
done
[ -n "$prune_error" ] || { echo "break: forum-backup did not fail on FORUM_BACKUP_KEEP=14d" >&2; exit 1; }

# A fresh WAL segment while there is room, and a checkpoint: Postgres writes on until the disk
# is full, and fails only where it must have new space.
echo "SELECT pg_switch_wal(); CHECKPOINT;" | sql >/dev/null

# One archive per night, newest first: nine nights per round, the oldest nights the smallest.
night=1
while :; do
    round=$((5 - (night - 1) / 9)); [ "$round" -ge 1 ] || round=1
    name="forum-$(day "$night")-031700.tar.gz"
    if ! cp "$work/round-$round.tar.gz" "$dir/$name" 2>/dev/null; then
        rm -f "$dir/$name"
        break
    fi
    touch -d "$(day "$night") 03:17:$((31 + night % 20))" "$dir/$name"
    night=$((night + 1))
done
oldest=$((night - 1))
[ "$oldest" -ge 30 ] || { echo "break: only $oldest nightly backups fit on the disk" >&2; exit 1; }
touch -d "$(day $((oldest - 5))) 16:52:31" "$env_file"

# Tonight's run: too little space left for it.
tonight=$(date -u +%Y-%m-%d)
if out=$(forum-backup 2>&1); then
    echo "break: tonight's backup did not fail" >&2
    exit 1
fi
ls -1t "$dir"/forum-*.tar.gz | head -n 1 | grep -q "forum-$(day 1)-" || { echo "break: tonight's backup left a file" >&2; exit 1; }
tonight_log=$(sed -E -e "s/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/${tonight}T03:17:02Z/" \
                     -e "s/forum-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{6}/forum-${tonight}-031700/g" <<<"$out")

# This morning: the forum's own writes (the digest emails' log) take the last bytes.
k=0
while [ "$k" -lt 400 ]; do
    echo "INSERT INTO email_logs (email_type, to_address, user_id, message_id, created_at)
          SELECT 'digest', u.email, u.id, 'digest/' || u.id || '/' || g || '@forum.example', now() - g * interval '1 day'
          FROM users u, generate_series($((k * 4 + 1)), $((k * 4 + 4))) AS g WHERE u.digest;"
    k=$((k + 1))
done | sql >/dev/null 2>&1 && { echo "break: Postgres never ran out of space" >&2; exit 1; }

# Members keep posting, round the busiest topics, until a whole round fails: a topic whose
# index page is full fails first, the others once the posts table itself cannot grow.
topics=($(echo "SELECT id FROM topics WHERE title <> 'Ops: posting test' ORDER BY bumped_at DESC LIMIT 8" | sql))
replies=("Same here, the import stops at the same photo every time."
         "Thanks, that setting fixed it for me too."
         "Has anyone tried this with the 3.4.1 build?"
         "Posting my log below in case it helps.")
# One round: a reply to each of the eight topics at once (curl -Z), by eight members.
round() {
    for t in 0 1 2 3 4 5 6 7; do
        n=$((round_no * 8 + t))
        printf 'url = "http://127.0.0.1:3000/posts.json"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
        printf 'header = "Api-Key: %s"\nheader = "Api-Username: %s"\nheader = "Content-Type: application/json"\n' \
            "$key" "${members[n % 10]}"
        printf 'data = "{\\"topic_id\\": %s, \\"raw\\": \\"%s\\"}"\n' "${topics[t]}" "${replies[n % 4]}"
        [ "$t" = 7 ] || echo next
    done | curl -s -Z --parallel-max 8 -K - 2>/dev/null | grep -c '^500$'
}
round_no=0
while [ "$round_no" -lt 50 ] && [ "$(round || true)" != 8 ]; do
    round_no=$((round_no + 1))
done
[ "$round_no" -lt 50 ] || { echo "break: posting still works" >&2; exit 1; }

# The backup log: the last week of nights, then tonight's failure.
for night in 7 6 5 4 3 2 1; do
    d=$(day "$night") name="forum-$(day "$night")-031700"
    size=$(stat -c %s "$dir/$name.tar.gz")
    printf '%sT03:17:01Z backup %s: dumping database forum\n%sT03:17:01Z backup %s: archiving uploads\n' "$d" "$name" "$d" "$name"
    printf '%sT03:17:02Z backup %s: done, %s bytes\n%s\n' "$d" "$name" "$size" "$prune_error"
done > "$log"
echo "$tonight_log" >> "$log"
rm -rf "$work"
report
EOF_FORUM
)
echo "$state" | tail -n 1 >"$SCENARIO_DIR/.break-state"
