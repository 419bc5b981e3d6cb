#!/usr/bin/env bash
# Guard: the message bus still long-polls. A poll with nothing new must stay open (a streaming
# poll sends its first chunk and waits for news, up to 25 s); shortening the poll so that
# nginx's buffer empties sooner, or answering every poll at once, turns every open tab into a
# client that asks again and again. Here a poll through nginx, on a channel nothing publishes
# to, must still be open after 3 s (the app ends polls on a 1 s tick: a 2 s poll is over by
# then). It is on the broken stack too: nginx holds it back.
# Passes when the poll gets no answer or an error (unicorn restarting): nothing to tell then.
# The logic goes over stdin: the trainee's `ps` shows `sh -s` and a curl.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
status=0
code=$(curl -sN -o /dev/null -w '%{http_code}' -m 3 -H 'Content-Type: application/json' \
    --data '{"channels":["/__idle"]}' http://127.0.0.1/message-bus/idlecheck/poll) || status=$?
[ "$status" -eq 28 ] && exit 0   # still open when curl gave up: a long poll
[ "$code" = 200 ] || exit 0       # no answer, or an error (unicorn restarting): nothing to tell
echo "a poll with nothing new was answered and ended within 3 s" >&2
exit 1
EOS
