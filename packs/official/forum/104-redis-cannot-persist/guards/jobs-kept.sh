#!/usr/bin/env bash
# Guard: every notification email that waits still has its job. A notification waiting for its
# email (email_status 'pending') is sent by a Jobs::NotificationEmail that sits in Sidekiq's
# queue, its retry set or its schedule. Last night's emails wait in the retry set: FLUSHALL
# (once the writes are let through), Redis restarted with its files deleted or in another
# directory, drop those jobs while the notifications still wait; marking them 'sent' by hand in
# the database leaves them without the email log the forum writes with every real send. Only
# notifications older than two minutes count (a new post's are made and sent within seconds),
# with room for a few jobs in a worker's hands.
# Passes when Redis or Postgres does not answer (a restart): nothing is known to be lost then.
# The logic goes over stdin: the trainee's `ps` shows none of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
jobs=$(printf 'MULTI\nLLEN queue:default\nZCARD retry\nZCARD schedule\nEXEC\n' | redis-cli 2>/dev/null) || exit 0
set -- $jobs
[ "$#" -eq 7 ] || exit 0   # OK QUEUED QUEUED QUEUED and the three answers
case "$5$6$7" in *[!0-9]*) exit 0 ;; esac
held=$(($5 + $6 + $7))
# The marked ones in a query of their own: NOT EXISTS in a WHERE is one anti-join, while in an
# aggregate's FILTER it would scan the email logs once per notification.
counts=$(echo "SELECT count(*) FILTER (WHERE email_status = 'pending'),
                     (SELECT count(*) FROM notifications n WHERE n.email_status = 'sent'
                         AND n.created_at < now() - interval '2 minutes'
                         AND NOT EXISTS (SELECT 1 FROM email_logs e WHERE e.notification_id = n.id))
              FROM notifications WHERE created_at < now() - interval '2 minutes'" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -F ' ' -d forum 2>/dev/null) || exit 0
set -- $counts
[ "$#" -eq 2 ] || exit 0
case "$1$2" in *[!0-9]*) exit 0 ;; esac
pending=$1 faked=$2
lost=$((pending - held))
[ "$lost" -lt 0 ] && lost=0
[ $((lost + faked)) -le 20 ] && exit 0
echo "$((lost + faked)) notification emails dropped ($lost pending with no job left in Redis, $faked marked sent unsent)" >&2
exit 1
EOS
