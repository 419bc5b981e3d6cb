#!/usr/bin/env bash
# Fixed = live updates reach a browser through nginx again: a client long-polls the message bus
# through nginx as a browser does (HTTP/1.1, gzip accepted), gets the poll's first chunk at once,
# and sees a post created meanwhile arrive on that same, still open poll within 3 s.
# The check's posts go to a closed topic of its own in Site Feedback (closed: never in Latest).
# What runs in the container goes over stdin (sh -s): the trainee's `ps` shows none of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
topic=$(setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -v ON_ERROR_STOP=1 -d forum <<'SQL'
WITH found AS (SELECT id FROM topics WHERE title = 'Live updates check (automated, please ignore)'),
made AS (
    INSERT INTO topics (title, category_id, user_id, closed, last_post_user_id)
    SELECT 'Live updates check (automated, please ignore)', 6, 1, true, 1
    WHERE NOT EXISTS (SELECT 1 FROM found)
    RETURNING id
)
SELECT id FROM found UNION ALL SELECT id FROM made LIMIT 1
SQL
) || { echo "the database does not answer" >&2; exit 1; }
out=$(mktemp)
trap 'kill "$poll" 2>/dev/null; rm -f "$out"' EXIT
client=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
curl -sN --compressed -m 9 -H 'Content-Type: application/json' --data '{"channels":["/latest"]}' \
    "http://127.0.0.1/message-bus/$client/poll" >"$out" 2>/dev/null &
poll=$!
i=0
while [ ! -s "$out" ] && [ "$i" -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ ! -s "$out" ]; then
    echo "a poll through nginx got nothing in 3 s (a streaming poll's first chunk comes at once)" >&2
    exit 1
fi
post=$(curl -sS -m 3 -K - <<CURL
url = "http://127.0.0.1:3000/posts.json"
header = "Api-Key: 2f9c4e1a7b3d5f60a8c1e2d4b6f8a0c3e5d7b9f1a3c5e7d9"
header = "Api-Username: sam"
header = "Content-Type: application/json"
data = "{\"topic_id\": $topic, \"raw\": \"live updates check $client\"}"
CURL
) || { echo "could not post: $post" >&2; exit 1; }
number=$(printf '%s' "$post" | jq -r '.post_number // empty')
[ -n "$number" ] || { echo "could not post: $post" >&2; exit 1; }
i=0
while [ "$i" -lt 30 ]; do
    if grep -q "\"topic_id\":$topic,\"post_number\":$number}" "$out"; then
        kill -0 "$poll" 2>/dev/null && exit 0
        echo "the new post came only as the poll ended" >&2
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
echo "the new post did not reach the subscriber through nginx within 3 s" >&2
exit 1
EOF_FORUM
