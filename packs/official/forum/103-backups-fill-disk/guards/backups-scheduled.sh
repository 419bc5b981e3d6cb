#!/usr/bin/env bash
# Guard: the nightly backup still happens: cron's entry for forum-backup is in place (not
# commented out), the job is there to run, and it still writes to /var/backups/forum. Turning
# backups off frees the disk for good, and leaves the forum without a backup from tonight on.
# Shell builtins only (and the job's own settings file), the logic on stdin.
set -euo pipefail
docker compose exec -T forum bash -s <<'EOF_FORUM'
scheduled=0
while read -r m h dom mon dow user command; do
    case $m in ''|\#*) continue ;; esac
    case $command in */usr/local/bin/forum-backup*|forum-backup*) scheduled=1 ;; esac
done < /etc/cron.d/forum
[ "$scheduled" = 1 ] || { echo "no cron entry runs forum-backup" >&2; exit 1; }
[ -x /usr/local/bin/forum-backup ] || { echo "forum-backup is gone" >&2; exit 1; }
target=$(set -a; . /etc/forum/forum.env >/dev/null 2>&1; echo "${FORUM_BACKUP_DIR:-/var/backups/forum}")
[ "$(realpath -m "$target")" = "$(realpath -m /var/backups/forum)" ] && exit 0
echo "backups go to $target" >&2
exit 1
EOF_FORUM
