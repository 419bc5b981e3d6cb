#!/usr/bin/env bash
# Guard: every notification email that waits still has its job. A notification waiting for its
# email (email_status 'pending') is sent by a Jobs::NotificationEmail that sits in Sidekiq's
# queue, its retry set or its schedule; deleting the queue, flushing Redis or clearing the
# retries drops those jobs while the notifications still wait, turning emails off (for the
# site or for the users) marks them 'skipped', and marking them 'sent' by hand in the database
# leaves them without the email log the forum writes with every real send. Either way users
# never get them.
# Passes when it cannot tell (Redis or Postgres not answering, e.g. during a restart): nothing
# is known to be lost then. The logic goes over stdin: the trainee's `ps` shows none of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
jobs=$(printf 'MULTI\nLLEN queue:default\nZCARD retry\nZCARD schedule\nEXEC\n' | redis-cli 2>/dev/null) || exit 0
set -- $jobs
[ "$#" -eq 7 ] || exit 0   # OK QUEUED QUEUED QUEUED and the three answers
queued=$5 retries=$6 scheduled=$7
# The marked ones in a query of their own: NOT EXISTS in a WHERE is one anti-join, while in an
# aggregate's FILTER it would scan the email logs once per notification.
counts=$(echo "SELECT count(*) FILTER (WHERE email_status = 'pending'), count(*) FILTER (WHERE email_status = 'skipped'),
                     (SELECT count(*) FROM notifications n WHERE n.email_status = 'sent' AND NOT EXISTS
                         (SELECT 1 FROM email_logs e WHERE e.notification_id = n.id))
              FROM notifications" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -F ' ' -d forum 2>/dev/null) || exit 0
set -- $counts
[ "$#" -eq 3 ] || exit 0
pending=$1 skipped=$2 faked=$3
lost=$((pending - queued - retries - scheduled))
[ "$lost" -lt 0 ] && lost=0
# A few jobs are always in a worker's hands (popped from the queue, not yet sent).
[ $((lost + skipped + faked)) -le 50 ] && exit 0
echo "$((lost + skipped + faked)) notification emails dropped ($lost without a job, $skipped skipped, $faked marked sent unsent)" >&2
exit 1
EOS
