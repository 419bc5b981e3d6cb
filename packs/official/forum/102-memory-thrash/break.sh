#!/usr/bin/env bash
# Last night's "launch prep": more unicorn workers and more Sidekiq threads for the expected
# traffic, on a box whose memory did not grow (the bigger VM plan was never applied). Both
# are restarted the way the admin did it, and the break returns once the kernel has begun
# OOM-killing inside the box's memory limit.
set -euo pipefail
docker compose exec -T forum sh -s <<'EOF_FORUM'
set -eu
sed -i -e 's/^FORUM_UNICORN_WORKERS=.*/FORUM_UNICORN_WORKERS=8/' \
       -e 's/^FORUM_SIDEKIQ_CONCURRENCY=.*/FORUM_SIDEKIQ_CONCURRENCY=25/' /etc/forum/forum.env
touch -d "$(date -u -d yesterday +%Y-%m-%d) 23:41:07" /etc/forum/forum.env
forumctl restart unicorn >/dev/null
# As `forumctl restart sidekiq` does, without waiting for the new pid (the new Sidekiq may
# well be killed before it writes one): its supervisor starts it again a second later.
read -r pid < /var/www/forum/tmp/pids/sidekiq.pid && kill -TERM "$pid"

kills() {
    for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
        [ -r "$f" ] || continue
        while read -r key value; do
            [ "$key" = oom_kill ] && { echo "$value"; return; }
        done < "$f"
    done
    echo 0
}
before=$(kills) i=0
while [ "$i" -lt 120 ]; do
    [ "$(kills)" -gt "$before" ] && exit 0
    sleep 0.5
    i=$((i + 1))
done
echo "break.sh: no OOM kill within 60 s (is the memory limit applied?)" >&2
exit 1
EOF_FORUM
