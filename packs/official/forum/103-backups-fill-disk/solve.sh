#!/usr/bin/env bash
# Make room the safe way and mend the retention:
#  - delete the old nightly archives, keeping the newest five (by time, as the job prunes);
#  - FORUM_BACKUP_KEEP back to a plain number of backups: 14, the two weeks that were meant,
#    which fit the 256 MB disk beside the database;
#  - wait for Postgres, which starts again by itself once it can write (its supervisor retries).
# The next run of the job (the check runs it as cron would) then prunes by itself.
set -euo pipefail
docker compose exec -T forum bash -s <<'EOF_FORUM'
set -euo pipefail
cd /var/backups/forum
ls -1t forum-*.tar.gz | tail -n +6 | while read -r old; do rm -f -- "$old"; done
sed -i 's/^FORUM_BACKUP_KEEP=.*/FORUM_BACKUP_KEEP=14/' /etc/forum/forum.env
df -h /var/backups/forum/
for _ in $(seq 1 60); do
    pg_isready -q -h /var/run/postgresql && exit 0
    sleep 1
done
echo "solve.sh: postgres did not come back" >&2
exit 1
EOF_FORUM
