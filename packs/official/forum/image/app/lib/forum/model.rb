# frozen_string_literal: true

module Forum
  # What posting does, wherever it comes from (the API, forum-runner, a seed script).
  module PostCreator
    WATCHING = 3
    TRACKING = 2

    class Invalid < StandardError; end

    # Creates a reply (topic_id given) or a new topic (title and category given).
    # Returns the post's row. Jobs are enqueued after the commit, as Rails' after_commit does.
    def self.create(user_id:, raw:, topic_id: nil, title: nil, category_id: nil)
      raise Invalid, "raw is too short" if raw.to_s.strip.length < 5
      post = Forum.transaction do |conn|
        if topic_id.nil?
          raise Invalid, "title is too short" if title.to_s.strip.length < 8
          topic_id = conn.exec_params(<<~SQL, [title.strip, category_id || 1, user_id]).first["id"]
            INSERT INTO topics (title, category_id, user_id, created_at, bumped_at, last_post_user_id)
            VALUES ($1, $2, $3, now(), now(), $3) RETURNING id
          SQL
          level = WATCHING
        else
          exists = conn.exec_params("SELECT 1 FROM topics WHERE id = $1 FOR UPDATE", [topic_id]).ntuples
          raise Invalid, "topic #{topic_id} does not exist" if exists.zero?
          level = TRACKING
        end
        row = conn.exec_params(<<~SQL, [topic_id, user_id, raw]).first
          INSERT INTO posts (topic_id, user_id, post_number, raw, created_at)
          VALUES ($1, $2, (SELECT coalesce(max(post_number), 0) + 1 FROM posts WHERE topic_id = $1), $3, now())
          RETURNING id, topic_id, post_number, user_id, created_at
        SQL
        conn.exec_params(<<~SQL, [topic_id, user_id])
          UPDATE topics SET posts_count = posts_count + 1, bumped_at = now(), last_post_user_id = $2
          WHERE id = $1
        SQL
        conn.exec_params(<<~SQL, [user_id, topic_id, level])
          INSERT INTO topic_users (user_id, topic_id, notification_level) VALUES ($1, $2, $3)
          ON CONFLICT (user_id, topic_id) DO NOTHING
        SQL
        row
      end
      Jobs::ProcessPost.perform_async(post["id"])
      Jobs::PostAlert.perform_async(post["id"])
      MessageBus.publish("/latest", { "topic_id" => post["topic_id"], "post_number" => post["post_number"] })
      MessageBus.publish("/topic/#{post['topic_id']}", { "post_id" => post["id"], "post_number" => post["post_number"] })
      post
    end
  end

  # Turns a post's raw text into HTML (paragraphs; everything escaped).
  module Cooker
    def self.cook(raw)
      raw.to_s.split(/\n{2,}/).map do |para|
        "<p>#{para.gsub('&', '&amp;').gsub('<', '&lt;').gsub('>', '&gt;').gsub("\n", '<br>')}</p>"
      end.join("\n")
    end
  end
end
