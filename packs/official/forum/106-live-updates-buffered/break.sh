#!/usr/bin/env bash
# The incident: last night's "page speed" tuning of the forum's nginx (faults/forum.site)
# compresses text/plain too and turns proxy buffering on for the whole site, the message bus's
# long-poll included: nginx now holds the poll's gzipped chunks until the poll ends, so new
# posts reach the members' tabs only every ~25 s, in bursts. Everything that runs in a
# container goes over stdin.
set -euo pipefail

# Compose's progress lines are noise; its output is shown only when the command fails.
quiet() {
    local out
    out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

# The forum's data: the support megathread where members paste their import logs (200 long
# posts, a 1.5 MB page), bumped three hours ago. Made once.
docker compose exec -T forum sh -s <<'EOF_FORUM'
setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -v ON_ERROR_STOP=1 -d forum <<'SQL'
DO $$
DECLARE
    t int;
    megathread text := 'Share your 3.4 import logs here (megathread)';
BEGIN
    IF EXISTS (SELECT 1 FROM topics WHERE title = megathread) THEN
        RETURN;
    END IF;
    INSERT INTO topics (title, category_id, user_id, posts_count, views, created_at, bumped_at, last_post_user_id)
    VALUES (megathread, 2, 2, 200, 18412, now() - interval '20 days', now() - interval '3 hours', 9)
    RETURNING id INTO t;
    INSERT INTO posts (topic_id, user_id, post_number, raw, cooked, created_at)
    SELECT t, u, n, 'Here is my import log:' || E'\n\n' || body,
           '<p>Here is my import log:</p><pre>' || body || '</pre>', at
    FROM (
        SELECT n, CASE WHEN n = 1 THEN 2 WHEN n = 200 THEN 9 ELSE 3 + (n * 37) % 230 END AS u,
               now() - interval '20 days' + n * interval '143 minutes' AS at,
               string_agg(format('%s lumen-import[%s]: album %s/60 "%s": %s files, %s thumbnails, %s skipped (%s)',
                                 to_char(now() - interval '20 days' + n * interval '143 minutes' + l * interval '7 seconds',
                                         'YYYY-MM-DD HH24:MI:SS'),
                                 1000 + n, l, (ARRAY['Holidays 2019', 'Family', 'Scans', 'Phone backup', 'Raw 2021'])[1 + (n + l) % 5],
                                 100 + (n * l) % 900, (n * l) % 400, (n + l) % 7,
                                 (ARRAY['exif unreadable', 'duplicate', 'unsupported raw', 'zero bytes'])[1 + l % 4]), E'\n'
                          ORDER BY l) AS body
        FROM generate_series(1, 200) AS n, generate_series(1, 60) AS l
        GROUP BY n
    ) p;
END $$;
SQL
EOF_FORUM

# Last night's tuning, written at 23:40 and reloaded then.
quiet docker compose cp faults/forum.site forum:/etc/nginx/sites-available/forum
docker compose exec -T forum sh -s <<'EOF_FORUM'
touch -d "$(date -d 'yesterday 23:40' '+%Y-%m-%d %H:%M:%S')" /etc/nginx/sites-available/forum
nginx -t -q && nginx -s reload 2>/dev/null
# Until a new poll is held back (the reload's new workers answer it), as the check will see.
i=0
while [ "$i" -lt 20 ]; do
    got=$(curl -sN --compressed -m 1 -H 'Content-Type: application/json' --data '{"channels":["/latest"]}' \
        http://127.0.0.1/message-bus/breakprobe/poll | wc -c) || true
    [ "$got" -eq 0 ] && exit 0
    i=$((i + 1))
done
echo "new polls through nginx still stream" >&2
exit 1
EOF_FORUM
