#!/usr/bin/env bash
# The incident, 19 hours in: mailhost revoked the forum's SMTP password after it turned up in a
# public repository; since then every notification email fails with 535 and the Sidekiq queue
# holds the day's notifications. Everything that runs in a container goes over stdin.
set -euo pipefail

# The provider's side: the credential revoked 19 hours ago.
docker compose exec -T mail sh -s <<'EOF_MAIL'
at=$(date -u -d '-19 hours' +%Y-%m-%dT%H:%M:%SZ)
mailhost-admin revoke postmaster@forum.example \
    "exposed in a public repository (found by secret scanning: forum-ops/containers/app.yml); set a new password to resume sending" \
    "$at"
EOF_MAIL

# The forum's side: 19 hours of posts whose notifications never went out, made with the forum's
# own code (forum-runner reads the program from stdin).
docker compose exec -T forum forum-runner - <<'EOF_RUBY'
HOURS = 19
now = Time.now
# What ran before the break ran while mail still worked: move it back before the revocation.
Forum.transaction do |c|
  c.exec("UPDATE posts SET created_at = created_at - interval '#{HOURS} hours' WHERE created_at > now() - interval '#{HOURS} hours'")
  c.exec("UPDATE notifications SET created_at = created_at - interval '#{HOURS} hours', emailed_at = emailed_at - interval '#{HOURS} hours' WHERE created_at > now() - interval '#{HOURS} hours'")
  c.exec("UPDATE email_logs SET created_at = created_at - interval '#{HOURS} hours' WHERE created_at > now() - interval '#{HOURS} hours'")
end

# ~760 replies over the 19 hours in the busiest topics, and a notification for each watcher.
rows = Forum.transaction do |c|
  c.exec("SELECT id FROM topics ORDER BY id FOR UPDATE") # members post meanwhile: number after them
  c.exec(<<~SQL)
    CREATE TEMPORARY TABLE backlog_posts ON COMMIT DROP AS
    SELECT t.id AS topic_id, 3 + floor(random() * 236)::int AS user_id,
           now() - interval '#{HOURS} hours' + (g * interval '#{HOURS} hours' / 760) AS created_at,
           (ARRAY['Same here since yesterday evening.', 'Any update on this?',
                  'I added the details from my install below.', 'Thanks, that fixed it for me!',
                  'Could this be the new importer again?', 'Confirmed on 3.4.1 as well.'])[1 + g % 6] AS raw
    FROM generate_series(1, 760) AS g
    JOIN LATERAL (SELECT id FROM topics ORDER BY bumped_at DESC, id LIMIT 1 OFFSET (g * 7) % 14) t ON true
  SQL
  c.exec(<<~SQL)
    INSERT INTO posts (topic_id, user_id, post_number, raw, cooked, created_at)
    SELECT b.topic_id, b.user_id,
           (SELECT max(post_number) FROM posts p WHERE p.topic_id = b.topic_id)
             + row_number() OVER (PARTITION BY b.topic_id ORDER BY b.created_at),
           b.raw, '<p>' || b.raw || '</p>', b.created_at
    FROM backlog_posts b
  SQL
  c.exec(<<~SQL)
    UPDATE topics t SET posts_count = s.cnt, bumped_at = s.last_at
    FROM (SELECT topic_id, count(*) AS cnt, max(created_at) AS last_at FROM posts GROUP BY topic_id) s
    WHERE s.topic_id = t.id
  SQL
  c.exec(<<~SQL).to_a
    INSERT INTO notifications (user_id, notification_type, topic_id, post_id, created_at, email_status)
    SELECT tu.user_id, 2, p.topic_id, p.id, p.created_at, 'pending'
    FROM posts p
    JOIN topic_users tu ON tu.topic_id = p.topic_id AND tu.notification_level = 3 AND tu.user_id <> p.user_id
    JOIN users u ON u.id = tu.user_id AND u.active AND u.email_notifications
    WHERE p.created_at > now() - interval '#{HOURS} hours' AND p.created_at < now() - interval '20 seconds'
    ON CONFLICT DO NOTHING
    RETURNING id, extract(epoch FROM created_at)::float8 AS at
  SQL
end
rows.sort_by! { |r| r["at"] }

job = lambda do |row, extra = {}|
  { "class" => "Jobs::NotificationEmail", "args" => [row["id"]], "retry" => true, "queue" => "default",
    "jid" => SecureRandom.hex(12), "created_at" => row["at"], "enqueued_at" => row["at"] + 0.4 }.merge(extra)
end

# The first hour's jobs were tried and failed: they wait in the retry set; the rest are queued,
# oldest first out.
tried, queued = rows.partition { |r| r["at"] < now.to_f - (HOURS - 1) * 3600 }
retries = tried.map do |row|
  count = rand(2..6)
  failed_at = row["at"] + 30
  entry = job.call(row, "retry_count" => count, "error_class" => "Net::SMTPAuthenticationError",
                        "error_message" => "535 5.7.8 Authentication credentials invalid",
                        "failed_at" => failed_at, "retried_at" => now.to_f - rand(60..3000))
  [now.to_f + rand(30..2400), JSON.generate(entry)]
end
Sidekiq.redis do |r|
  retries.each_slice(1000) { |slice| r.zadd("retry", slice) }
  queued.each_slice(2000) { |slice| r.lpush("queue:default", slice.map { |row| JSON.generate(job.call(row)) }) }
  r.sadd("queues", "default")
  r.incrby("stat:failed", retries.size * 4 + 3100)
end
puts "backlog: #{queued.size} notification emails queued, #{retries.size} in the retry set"
EOF_RUBY
