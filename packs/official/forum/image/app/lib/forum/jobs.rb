# frozen_string_literal: true

# The forum's background jobs (Sidekiq). Queues, in strict order: critical, default, low.
require "sidekiq"
require "sidekiq/api"
require_relative "../forum"

module Jobs
  # Cooks a post's raw text into HTML after it is saved.
  class ProcessPost
    include Sidekiq::Worker
    sidekiq_options queue: "default"

    def perform(post_id)
      raw = Forum.sql_value("SELECT raw FROM posts WHERE id = $1", post_id)
      return if raw.nil?
      Forum.sql("UPDATE posts SET cooked = $2 WHERE id = $1", post_id, Forum::Cooker.cook(raw))
    end
  end

  # Notifies the topic's watchers of a new post: one notification each, and an email job for
  # each watcher who wants notification emails.
  class PostAlert
    include Sidekiq::Worker
    sidekiq_options queue: "default"

    def perform(post_id)
      rows = Forum.sql(<<~SQL, post_id)
        INSERT INTO notifications (user_id, notification_type, topic_id, post_id, created_at, email_status)
        SELECT tu.user_id, 2, p.topic_id, p.id, now(),
               CASE WHEN u.email_notifications THEN 'pending' END
        FROM posts p
        JOIN topic_users tu ON tu.topic_id = p.topic_id AND tu.notification_level = 3
        JOIN users u ON u.id = tu.user_id AND u.active
        WHERE p.id = $1 AND tu.user_id <> p.user_id
        ON CONFLICT (user_id, post_id, notification_type) DO NOTHING
        RETURNING id, email_status
      SQL
      emails = rows.select { |r| r["email_status"] == "pending" }.map { |r| [r["id"]] }
      Sidekiq::Client.push_bulk("class" => NotificationEmail, "args" => emails) unless emails.empty?
      logger.info("post #{post_id}: #{rows.size} watchers notified, #{emails.size} emails enqueued")
    end
  end

  # Emails one notification. Skips it (and says why in skipped_email_logs) when emails are
  # disabled for the site or the user; otherwise the SMTP error fails the job and Sidekiq
  # retries it later.
  class NotificationEmail
    include Sidekiq::Worker
    sidekiq_options queue: "default"

    def perform(notification_id)
      n = Forum.sql(<<~SQL, notification_id).first
        SELECT n.id, n.email_status, n.topic_id, n.post_id, u.id AS user_id, u.username, u.email,
               u.email_notifications, u.admin, t.title, p.raw, p.post_number, a.username AS author
        FROM notifications n
        JOIN users u ON u.id = n.user_id
        JOIN posts p ON p.id = n.post_id
        JOIN topics t ON t.id = n.topic_id
        JOIN users a ON a.id = p.user_id
        WHERE n.id = $1
      SQL
      return if n.nil? || n["email_status"] != "pending"

      reason = skip_reason(n)
      if reason
        Forum.transaction do |conn|
          conn.exec_params("UPDATE notifications SET email_status = 'skipped' WHERE id = $1", [n["id"]])
          conn.exec_params(<<~SQL, ["user_replied", n["email"], n["user_id"], n["id"], reason])
            INSERT INTO skipped_email_logs (email_type, to_address, user_id, notification_id, reason, created_at)
            VALUES ($1, $2, $3, $4, $5, now())
          SQL
        end
        logger.info("notification #{n['id']}: email to #{n['email']} skipped: #{reason}")
        return
      end

      message_id = "topic/#{n['topic_id']}/#{n['post_id']}.n#{n['id']}@#{Forum.hostname}"
      Forum::Mailer.deliver(
        to: n["email"],
        subject: "[#{Forum.site_setting('title')}] #{n['title']}",
        body: body(n),
        message_id: message_id,
        headers: { "X-Forum-Topic-Id" => n["topic_id"], "X-Forum-Post-Id" => n["post_id"],
                   "X-Forum-Notification-Id" => n["id"] }
      )
      Forum.transaction do |conn|
        conn.exec_params("UPDATE notifications SET email_status = 'sent', emailed_at = now() WHERE id = $1",
                         [n["id"]])
        conn.exec_params(<<~SQL, ["user_replied", n["email"], n["user_id"], n["post_id"], n["id"], message_id])
          INSERT INTO email_logs (email_type, to_address, user_id, post_id, notification_id, message_id, created_at)
          VALUES ($1, $2, $3, $4, $5, $6, now())
        SQL
      end
    end

    private

    def skip_reason(n)
      case Forum.site_setting("disable_emails")
      when "yes" then return "emails are disabled for the site (disable_emails)"
      when "non-staff" then return "emails are disabled for non-staff (disable_emails)" unless n["admin"]
      end
      return "the user turned notification emails off" unless n["email_notifications"]
      nil
    end

    def body(n)
      excerpt = n["raw"].to_s.strip[0, 400]
      <<~TEXT
        #{n['author']} replied in "#{n['title']}":

        #{excerpt}

        Visit the topic: https://#{Forum.hostname}/t/#{n['topic_id']}/#{n['post_number']}

        You are receiving this because you are watching this topic.
        To unsubscribe, change your email preferences at https://#{Forum.hostname}/u/#{n['username']}/preferences
      TEXT
    end
  end

  # The admin's "send test email": sent at once on the critical queue, never retried; the
  # outcome is kept for ten minutes under forum:test-email:<token> (sent, or failed: <error>).
  class TestEmail
    include Sidekiq::Worker
    sidekiq_options queue: "critical", retry: false

    def perform(to, token)
      Forum::Mailer.deliver(
        to: to,
        subject: "[#{Forum.site_setting('title')}] Email deliverability test",
        body: "This is a test email from #{Forum.hostname} (token #{token}).\n",
        message_id: "test/#{token}@#{Forum.hostname}"
      )
      record(token, "sent")
    rescue StandardError => e
      record(token, "failed: #{e.class}: #{e.message.strip}")
      raise
    end

    def record(token, outcome)
      Forum.redis { |redis| redis.set("forum:test-email:#{token}", outcome, ex: 600) }
    end
  end

  # The daily digest of one user: the topics bumped since their last digest.
  class UserDigest
    include Sidekiq::Worker
    sidekiq_options queue: "low"

    def perform(user_id)
      user = Forum.sql("SELECT id, username, email, last_digest_at FROM users WHERE id = $1", user_id).first
      return if user.nil?
      since = user["last_digest_at"] || (Time.now - 86_400)
      topics = Forum.sql(<<~SQL, since)
        SELECT id, title, posts_count FROM topics WHERE bumped_at > $1 ORDER BY bumped_at DESC LIMIT 10
      SQL
      return if topics.empty?
      lines = topics.map { |t| "- #{t['title']} (#{t['posts_count']} posts): https://#{Forum.hostname}/t/#{t['id']}" }
      message_id = "digest/#{user['id']}/#{Time.now.to_i}@#{Forum.hostname}"
      Forum::Mailer.deliver(to: user["email"], subject: "[#{Forum.site_setting('title')}] Summary",
                            body: "Popular topics since your last visit:\n\n#{lines.join("\n")}\n",
                            message_id: message_id)
      Forum.transaction do |conn|
        conn.exec_params("UPDATE users SET last_digest_at = now() WHERE id = $1", [user["id"]])
        conn.exec_params(<<~SQL, ["digest", user["email"], user["id"], message_id])
          INSERT INTO email_logs (email_type, to_address, user_id, message_id, created_at) VALUES ($1, $2, $3, $4, now())
        SQL
      end
    end
  end

  # Run from cron once a day: a digest job for every user who wants one and is due.
  class EnqueueDigests
    include Sidekiq::Worker
    sidekiq_options queue: "low"

    def perform
      ids = Forum.sql(<<~SQL).map { |r| [r["id"]] }
        SELECT id FROM users
        WHERE active AND digest AND (last_digest_at IS NULL OR last_digest_at < now() - interval '20 hours')
      SQL
      Sidekiq::Client.push_bulk("class" => UserDigest, "args" => ids) unless ids.empty?
      logger.info("#{ids.size} digests enqueued")
    end
  end
end

# Where jobs are enqueued (the web app, forum-runner): the same Redis as the worker.
Sidekiq.configure_client do |config|
  config.redis = { url: Forum.redis_url, size: Integer(Forum.setting("REDIS_POOL", "5")) }
end
