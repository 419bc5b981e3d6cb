#!/usr/bin/env bash
# Guard: none of the forum's own data was thrown away to make room: topics, posts, users,
# notifications and the email log hold at least as many rows as when the incident began
# (counted by the break, in .break-state). TRUNCATE frees disk at once, and loses what members
# wrote or were sent. While Postgres does not answer (it cannot while the disk is full) the
# guard passes: nothing can have been deleted through it.
# The logic and the query on stdin, the numbers in the environment: `ps` shows none of it.
set -euo pipefail
read -r _ _ topics posts users notifications emails 2>/dev/null <"$SCENARIO_DIR/.break-state" || exit 0
docker compose exec -T -e WANT="$topics $posts $users $notifications $emails" forum sh -s <<'EOF_FORUM'
names="topics posts users notifications email_logs"
have=$(echo "SELECT (SELECT count(*) FROM topics), (SELECT count(*) FROM posts), (SELECT count(*) FROM users),
                    (SELECT count(*) FROM notifications), (SELECT count(*) FROM email_logs)" \
    | PGOPTIONS='-c statement_timeout=3000' setpriv --reuid=postgres --regid=postgres --init-groups \
        psql -XAtq -F ' ' -d forum 2>&1)
case $have in
    *'does not exist'*) echo "a table of the forum is gone: $have" >&2; exit 1 ;;
    *[!0-9\ ]*|'') exit 0 ;;   # Postgres does not answer: nothing was deleted through it
esac
set -- $WANT
for count in $have; do
    table=${names%% *} names=${names#* }
    [ "$count" -ge "$1" ] || { echo "$table: $count rows, $1 when the incident began" >&2; exit 1; }
    shift
done
exit 0
EOF_FORUM
