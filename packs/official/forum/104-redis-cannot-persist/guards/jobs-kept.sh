#!/usr/bin/env bash
# Guard: every notification email that waits still has its job. A notification waiting for its
# email (email_status 'pending') is sent by a Jobs::NotificationEmail that sits in Sidekiq's
# queue, its retry set or its schedule. Last night's emails wait in the retry set: FLUSHALL
# (once the writes are let through), Redis restarted with its files deleted or in another
# directory, drop those jobs while the notifications still wait. Only notifications older than
# two minutes count (a new post's are made and sent within seconds), with room for a few jobs
# in a worker's hands.
# Passes when Redis or Postgres does not answer (a restart): nothing is known to be lost then.
# The logic goes over stdin: the trainee's `ps` shows none of it.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOS'
jobs=$(printf 'MULTI\nLLEN queue:default\nZCARD retry\nZCARD schedule\nEXEC\n' | redis-cli 2>/dev/null) || exit 0
set -- $jobs
[ "$#" -eq 7 ] || exit 0   # OK QUEUED QUEUED QUEUED and the three answers
case "$5$6$7" in *[!0-9]*) exit 0 ;; esac
held=$(($5 + $6 + $7))
pending=$(echo "SELECT count(*) FROM notifications WHERE email_status = 'pending' AND created_at < now() - interval '2 minutes'" \
    | setpriv --reuid=postgres --regid=postgres --init-groups psql -XAtq -d forum 2>/dev/null) || exit 0
case $pending in ''|*[!0-9]*) exit 0 ;; esac
lost=$((pending - held))
[ "$lost" -le 20 ] && exit 0
echo "$lost pending notification emails have no job left in Redis" >&2
exit 1
EOS
