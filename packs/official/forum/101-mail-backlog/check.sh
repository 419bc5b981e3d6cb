#!/usr/bin/env bash
# Fixed = the forum's notification mail goes out through its provider again, and the backlog
# is being sent:
#  1. a test email sent by the forum's own Sidekiq worker (the admin's "send test email", on
#     the critical queue, with the settings the running worker has) is sent within 8 s...
#  2. ...and mailhost, the provider, accepted it for an SMTP login of forum.example (a sink
#     inside the box accepts it too, but delivers nothing);
#  3. the notification emails still waiting are being sent: one went out in the last minute,
#     or none waits any more.
# What runs in a container goes over stdin (sh -s): the trainee's `ps` shows none of it.
set -euo pipefail
token=$(docker compose exec -T forum sh -s <<'EOF_FORUM'
token=check$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
now=$(date +%s)
printf '{"class":"Jobs::TestEmail","args":["ops@forum.example","%s"],"queue":"critical","retry":false,"jid":"%s","created_at":%s,"enqueued_at":%s}' \
    "$token" "$token" "$now" "$now" | redis-cli -x LPUSH queue:critical >/dev/null
redis-cli SADD queues critical >/dev/null
outcome= i=0
while [ "$i" -lt 32 ]; do
    outcome=$(redis-cli GET "forum:test-email:$token")
    case $outcome in
        sent) break ;;
        failed*) echo "test email: $outcome" >&2; exit 1 ;;
    esac
    sleep 0.25
    i=$((i + 1))
done
[ "$outcome" = sent ] || { echo "test email: not sent within 8 s" >&2; exit 1; }
counts=$(echo "SELECT count(*) FILTER (WHERE email_status = 'pending'), count(*) FILTER (WHERE emailed_at > now() - interval '60 seconds') FROM notifications" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -F ' ' -d forum) || exit 1
set -- $counts
if [ "$1" -gt 0 ] && [ "$2" -eq 0 ]; then
    echo "$1 notification emails wait and none was sent in the last minute" >&2
    exit 1
fi
echo "$token"
EOF_FORUM
)
docker compose exec -T -e TOKEN="$token" mail sh -s <<'EOF_MAIL'
line=$(grep -F "\"message_id\":\"test/$TOKEN@" /var/lib/mailhost/events.log) || {
    echo "mailhost never received test/$TOKEN" >&2
    exit 1
}
case $line in
    *'"event":"delivered","login":"'*'@forum.example",'*) exit 0 ;;
esac
echo "mailhost: $line" >&2
exit 1
EOF_MAIL
