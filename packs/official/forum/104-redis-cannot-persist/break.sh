#!/usr/bin/env bash
# The incident, the morning after the move to a new box: the new box's provisioning, run again
# this morning, has a task for the data directories (not recursive) that gave Redis's data
# directory to root (/var/lib/redis, root:root 0755). Redis runs as the redis user: its append-only file, in appendonlydir, still
# takes writes, but its next background save cannot create its temp file in the directory, and
# with stop-writes-on-bgsave-error Redis refuses every write from then on: replies fail with a
# 500, Sidekiq can neither fetch nor enqueue. Reads still work.
# Before that, what the night left in Redis: notification emails for the replies posted during
# the move, which timed out against the mail provider (the new box's outgoing port was still
# closed) and wait in Sidekiq's retry set: what the fix must keep, and FLUSHALL (once writes are
# let through) or Redis's files deleted before a restart lose.
# Everything that runs in a container goes over stdin.
set -euo pipefail

# Broken already (a second run): nothing to do. Redis refuses the writes below then anyway.
state=$(docker compose exec -T forum sh -s <<'EOF_STATE'
owner=$(stat -c %U /var/lib/redis)
case $(echo "INFO persistence" | redis-cli) in
    *rdb_last_bgsave_status:err*) [ "$owner" = root ] && { echo broken; exit 0; } ;;
esac
echo healthy
EOF_STATE
)
[ "$state" = broken ] && exit 0

# The night's replies and their notifications, made with the forum's own code (forum-runner
# reads the program from stdin); their email jobs failed and wait for a retry in an hour or two.
docker compose exec -T forum forum-runner - <<'EOF_RUBY'
now = Time.now.to_f
night = now - 8.5 * 3600
rows = Forum.transaction do |c|
  c.exec("SELECT id FROM topics ORDER BY id FOR UPDATE") # members post meanwhile: number after them
  c.exec_params(<<~SQL, [night]).to_a
    WITH busy AS (
      SELECT id, row_number() OVER (ORDER BY bumped_at DESC, id) AS n
      FROM topics WHERE NOT closed ORDER BY bumped_at DESC, id LIMIT 5
    ), night AS (
      SELECT b.id AS topic_id, u.id AS user_id,
             to_timestamp($1::float8) + b.n * interval '23 minutes' AS created_at,
             (ARRAY['Moved my library to the new NAS last night, imports are twice as fast now.',
                    'Confirmed here too, the nightly build fixes it.',
                    'Posting from the mobile app: the new map view is great.',
                    'Any idea when 3.4.1 lands? The importer still hangs for me.',
                    'Attaching my settings below in case it helps someone.'])[b.n] AS raw
      FROM busy b JOIN users u ON u.username = (ARRAY['jonas', 'mei', 'tomasz', 'sofia', 'diego'])[b.n]
    ), inserted AS (
      INSERT INTO posts (topic_id, user_id, post_number, raw, cooked, created_at)
      SELECT n.topic_id, n.user_id, (SELECT max(post_number) FROM posts p WHERE p.topic_id = n.topic_id) + 1,
             n.raw, '<p>' || n.raw || '</p>', n.created_at
      FROM night n
      RETURNING id, topic_id, user_id, created_at
    ), bumped AS (
      UPDATE topics t SET posts_count = t.posts_count + 1, bumped_at = greatest(t.bumped_at, i.created_at)
      FROM inserted i WHERE t.id = i.topic_id
    )
    INSERT INTO notifications (user_id, notification_type, topic_id, post_id, created_at, email_status)
    SELECT tu.user_id, 2, i.topic_id, i.id, i.created_at, 'pending'
    FROM inserted i
    JOIN topic_users tu ON tu.topic_id = i.topic_id AND tu.notification_level = 3 AND tu.user_id <> i.user_id
    JOIN users u ON u.id = tu.user_id AND u.active AND u.email_notifications
    ON CONFLICT DO NOTHING
    RETURNING id, extract(epoch FROM created_at)::float8 AS at
  SQL
end
retries = rows.map do |row|
  count = 8 + rand(2)
  retried_at = now - rand(300..1800)
  entry = { "class" => "Jobs::NotificationEmail", "args" => [row["id"]], "retry" => true, "queue" => "default",
            "jid" => SecureRandom.hex(12), "created_at" => row["at"] + 0.3, "enqueued_at" => retried_at,
            "error_message" => "execution expired", "error_class" => "Net::OpenTimeout",
            "failed_at" => row["at"] + 5.4, "retry_count" => count, "retried_at" => retried_at }
  [retried_at + count**4 + 15 + rand(10) * (count + 1), JSON.generate(entry)]
end
Sidekiq.redis do |r|
  r.zadd("retry", retries) unless retries.empty?
  r.incrby("stat:failed", retries.size * 9)
end
puts "night: #{rows.size} notification emails wait in the retry set"
EOF_RUBY

# The data directory as the provisioning leaves it, then the save that fails.
docker compose exec -T forum sh -s <<'EOF_BREAK'
chown root:root /var/lib/redis
chmod 0755 /var/lib/redis
echo BGSAVE | redis-cli >/dev/null
i=0
while [ $i -lt 50 ]; do
    case $(echo "INFO persistence" | redis-cli) in
        *rdb_last_bgsave_status:err*) exit 0 ;;
    esac
    sleep 0.2
    i=$((i + 1))
done
echo "redis: the background save did not fail" >&2
exit 1
EOF_BREAK
