# frozen_string_literal: true

# The forum's web app (Sinatra under unicorn): pages, the JSON API, the admin dashboard,
# the message bus's long-poll, uploads and the health check.
require "digest"
require "fileutils"
require "openssl"
require "socket"
require "sinatra/base"
require_relative "lib/forum"
require_relative "lib/forum/jobs"

module Forum
  # production.log: one line per request (method, path, status, duration, client address).
  class RequestLog
    def initialize(app) = @app = app

    def call(env)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      env["forum.log"] = ->(status, seconds) { write(env, status, seconds) }
      status, headers, body = @app.call(env)
      write(env, status, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) unless env["forum.parked"]
      [status, headers, body]
    rescue StandardError => e
      write(env, 500, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, e)
      raise
    end

    private

    def write(env, status, seconds, error = nil)
      path = env["PATH_INFO"]
      format = path.end_with?(".json") || env["HTTP_ACCEPT"].to_s.start_with?("application/json") ? "json" : "html"
      line = "method=#{env['REQUEST_METHOD']} path=#{path} format=#{format} status=#{status} " \
             "duration=#{format('%.2f', seconds * 1000)} ip=#{Web.client_ip(env)}"
      line += " error=#{error.class}: #{error.message.lines.first&.strip}" if error
      Forum.request_log.info(line)
    rescue StandardError
      nil
    end
  end

  class Web < Sinatra::Base
    set :root, Forum::ROOT
    set :views, File.join(Forum::ROOT, "views")
    set :public_folder, File.join(Forum::ROOT, "public")
    set :show_exceptions, false
    set :raise_errors, false
    set :dump_errors, true
    set :logging, false
    set :host_authorization, { permitted_hosts: [] } if settings.respond_to?(:host_authorization)

    UPLOADS = File.join(Forum::ROOT, "public/uploads/default/original")
    BACKUPS = "/var/backups/forum"

    # The address nginx saw (X-Real-IP), else the peer of this process.
    def self.client_ip(env) = env["HTTP_X_REAL_IP"] || env["REMOTE_ADDR"]

    helpers do
      def h(text) = Rack::Utils.escape_html(text.to_s)
      def number(value) = value.to_i.to_s.reverse.scan(/\d{1,3}/).join(",").reverse
      def ago(time)
        return "never" if time.nil?
        seconds = (Time.now - time).to_i
        return "#{seconds}s ago" if seconds < 90
        return "#{seconds / 60} min ago" if seconds < 5400
        return "#{seconds / 3600} hours ago" if seconds < 172_800
        "#{seconds / 86_400} days ago"
      end

      def json(data, status = 200)
        content_type :json
        halt status, JSON.generate(data)
      end

      def payload
        @payload ||= if request.media_type == "application/json"
                       body = request.body.read
                       body.empty? ? {} : JSON.parse(body)
                     else
                       params
                     end
      end

      # Discourse-style API authentication: Api-Key and Api-Username headers.
      def api_user!
        key = request.env["HTTP_API_KEY"]
        username = request.env["HTTP_API_USERNAME"]
        json({ "errors" => ["You are not permitted to view the requested resource."] }, 403) if key.nil?
        user = Forum.sql(<<~SQL, key, username.to_s).first
          SELECT u.id, u.username, u.admin FROM api_keys k
          JOIN users u ON (k.user_id IS NULL AND u.username = $2) OR u.id = k.user_id
          WHERE k.key = $1 AND NOT k.revoked AND u.active
        SQL
        json({ "errors" => ["invalid API key or username"] }, 403) if user.nil?
        user
      end

      def latest_topics(category_id = nil)
        Forum.sql(<<~SQL, category_id)
          SELECT t.id, t.title, t.posts_count, t.views, t.bumped_at, t.created_at, c.name AS category,
                 c.slug AS category_slug, c.color, t.category_id, u.username AS last_poster_username
          FROM topics t JOIN categories c ON c.id = t.category_id JOIN users u ON u.id = t.last_post_user_id
          WHERE NOT t.closed AND ($1::int IS NULL OR t.category_id = $1::int)
          ORDER BY t.bumped_at DESC LIMIT 30
        SQL
      end
    end

    # -- pages ----------------------------------------------------------------------------

    get(%r{/(latest)?}) do
      @topics = latest_topics
      @title = "Latest"
      erb :latest
    end

    get "/latest.json" do
      json("topic_list" => { "topics" => latest_topics.map { |t| t.merge("bumped_at" => t["bumped_at"].iso8601) } })
    end

    get "/categories.json" do
      json("category_list" => { "categories" => Forum.sql("SELECT id, name, slug, color, description FROM categories ORDER BY position") })
    end

    get "/c/:slug" do
      category = Forum.sql("SELECT id, name FROM categories WHERE slug = $1", params[:slug]).first
      halt 404, erb(:not_found) if category.nil?
      @topics = latest_topics(category["id"])
      @title = category["name"]
      erb :latest
    end

    def load_topic(id)
      topic = Forum.sql(<<~SQL, id).first
        SELECT t.*, c.name AS category, c.slug AS category_slug, c.color
        FROM topics t JOIN categories c ON c.id = t.category_id WHERE t.id = $1
      SQL
      return nil if topic.nil?
      Forum.sql("UPDATE topics SET views = views + 1 WHERE id = $1", id)
      posts = Forum.sql(<<~SQL, id)
        SELECT p.id, p.post_number, p.cooked, p.raw, p.created_at, u.username, u.name
        FROM posts p JOIN users u ON u.id = p.user_id WHERE p.topic_id = $1 ORDER BY p.post_number LIMIT 200
      SQL
      [topic, posts]
    end

    get %r{/t/(?:[^/]+/)?(\d+)\.json} do |id|
      topic, posts = load_topic(Integer(id))
      json({ "errors" => ["not found"] }, 404) if topic.nil?
      json("id" => topic["id"], "title" => topic["title"], "posts_count" => topic["posts_count"],
           "post_stream" => { "posts" => posts.map { |p| p.merge("created_at" => p["created_at"].iso8601) } })
    end

    get %r{/t/(?:[a-z0-9-]+/)?(\d+)(?:/\d+)?} do |id|
      @topic, @posts = load_topic(Integer(id))
      halt 404, erb(:not_found) if @topic.nil?
      @title = @topic["title"]
      erb :topic
    end

    get "/u/:username.json" do
      user = Forum.sql(<<~SQL, params[:username]).first
        SELECT id, username, name, created_at, last_seen_at, admin, email_notifications, digest
        FROM users WHERE username = $1
      SQL
      json({ "errors" => ["not found"] }, 404) if user.nil?
      json("user" => user.transform_values { |v| v.is_a?(Time) ? v.iso8601 : v })
    end

    # -- the API: posting ---------------------------------------------------------------------

    post %r{/posts(\.json)?} do
      user = api_user!
      data = payload
      category = data["category"] && Integer(data["category"]) rescue nil
      topic_id = data["topic_id"] && Integer(data["topic_id"]) rescue nil
      post = PostCreator.create(user_id: user["id"], raw: data["raw"], topic_id: topic_id,
                                title: data["title"], category_id: category)
      json("id" => post["id"], "topic_id" => post["topic_id"], "post_number" => post["post_number"],
           "username" => user["username"], "created_at" => post["created_at"].iso8601)
    rescue PostCreator::Invalid => e
      json({ "errors" => [e.message] }, 422)
    end

    post %r{/uploads(\.json)?} do
      user = api_user!
      file = params[:file]
      json({ "errors" => ["no file given (multipart field 'file')"] }, 422) unless file.is_a?(Hash) && file[:tempfile]
      limit = Integer(Forum.site_setting("max_upload_kb")) * 1024
      size = file[:tempfile].size
      json({ "errors" => ["Sorry, that file is too big (maximum is #{limit / 1024} KB)."] }, 422) if size > limit
      sha1 = Digest::SHA1.file(file[:tempfile].path).hexdigest
      ext = File.extname(file[:filename].to_s).downcase.gsub(/[^.a-z0-9]/, "")[0, 8]
      dir = File.join(UPLOADS, sha1[0, 1], sha1[1, 2])
      FileUtils.mkdir_p(dir)
      stored = File.join(dir, "#{sha1}#{ext}")
      FileUtils.cp(file[:tempfile].path, stored)
      File.chmod(0o644, stored) # the tempfile's 0600 came along: nginx serves uploads itself
      url = "/uploads/default/original/#{sha1[0, 1]}/#{sha1[1, 2]}/#{sha1}#{ext}"
      row = Forum.sql(<<~SQL, user["id"], file[:filename].to_s[0, 200], size, sha1, url).first
        INSERT INTO uploads (user_id, original_filename, filesize, sha1, url, created_at)
        VALUES ($1, $2, $3, $4, $5, now()) RETURNING id
      SQL
      json("id" => row["id"], "url" => url, "original_filename" => file[:filename], "filesize" => size)
    end

    # -- the message bus ---------------------------------------------------------------------

    [%r{/message-bus/poll}, %r{/message-bus/[\w-]+/poll}].each do |route|
      [:get, :post].each do |verb|
        send(verb, route) do
          last = Integer(payload["last"] || params["last"] || -1) rescue -1
          channels = Array(payload["channels"] || params["channels"]).flat_map { |c| c.to_s.split(",") }
          last = MessageBus.last_id if last.negative?
          ready = MessageBus.since(last, channels)
          json(ready) unless ready.empty?
          # dlp=t ("don't long-poll", as Discourse's client says): answer at once.
          json([]) if params["dlp"] == "t" || env["rack.hijack"].nil?
          # Nothing new: park the client and free this worker (the answer comes later).
          env["forum.parked"] = true
          io = env["rack.hijack"].call
          started = Time.now
          chunked = env["SERVER_PROTOCOL"] == "HTTP/1.1" && env["HTTP_DONT_CHUNK"].nil?
          MessageBus.waiters.park(MessageBus::Waiters::Client.new(
            io, last, channels, started + MessageBus::POLL_SECONDS, started, env["forum.log"], chunked
          ))
          [-1, {}, []]
        end
      end
    end

    # -- health --------------------------------------------------------------------------------

    get "/srv/status" do
      content_type "text/plain"
      problems = []
      begin
        Forum.sql_value("SELECT 1")
      rescue StandardError => e
        problems << "postgres: #{e.class}: #{e.message.lines.first&.strip}"
      end
      begin
        Forum.redis(&:ping)
      rescue StandardError => e
        problems << "redis: #{e.class}: #{e.message.lines.first&.strip}"
      end
      halt 500, "#{problems.join("\n")}\n" unless problems.empty?
      "ok"
    end

    # -- admin -----------------------------------------------------------------------------------

    get "/admin" do
      @d = Dashboard.new.to_h
      @title = "Admin"
      erb :admin
    end

    get "/admin/dashboard.json" do
      json(Dashboard.new.to_h)
    end

    post "/admin/email/test" do
      to = payload["email"] || payload["to"] || "admin@#{Forum.hostname}"
      token = SecureRandom.hex(8)
      Jobs::TestEmail.perform_async(to, token)
      json("sent_test" => to, "token" => token, "outcome" => "see /admin/email/test/#{token}")
    end

    get "/admin/email/test/:token" do
      outcome = Forum.redis { |r| r.get("forum:test-email:#{params[:token]}") }
      json("token" => params[:token], "outcome" => outcome || "waiting")
    end

    get "/admin/site_settings.json" do
      rows = Forum.sql("SELECT name, value FROM site_settings").to_h { |r| [r["name"], r["value"]] }
      json("site_settings" => Forum::SITE_DEFAULTS.merge(rows).map { |n, v| { "setting" => n, "value" => v } })
    end

    put "/admin/site_settings/:name" do
      api_user!
      name = params[:name]
      json({ "errors" => ["no such setting: #{name}"] }, 404) unless Forum::SITE_DEFAULTS.key?(name)
      value = payload[name] || payload["value"]
      Forum.sql(<<~SQL, name, value.to_s)
        INSERT INTO site_settings (name, value, updated_at) VALUES ($1, $2, now())
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
      SQL
      json("success" => "OK")
    end

    not_found do
      request.path.end_with?(".json") ? json({ "errors" => ["not found"] }, 404) : erb(:not_found)
    end

    error do
      error = env["sinatra.error"]
      warn "#{error.class}: #{error.message}\n  #{Array(error.backtrace).first(5).join("\n  ")}"
      content_type "text/plain"
      "Oops! That page doesn't exist or is private. (#{error.class})\n"
    end
  end

  # What /admin shows, gathered from Sidekiq, Postgres, Redis, the disk and the certificate.
  class Dashboard
    def to_h
      { "version" => Forum::VERSION, "sidekiq" => sidekiq, "emails" => emails, "backups" => backups,
        "disk" => disk, "redis" => redis, "postgres" => postgres, "certificate" => certificate }
    end

    def sidekiq
      stats = Sidekiq::Stats.new
      queues = Sidekiq::Queue.all.map { |q| { "name" => q.name, "size" => q.size, "latency" => q.latency.round } }
      %w[critical default low].each { |n| queues << { "name" => n, "size" => 0, "latency" => 0 } unless queues.any? { |q| q["name"] == n } }
      { "queues" => queues.sort_by { |q| %w[critical default low].index(q["name"]) || 9 },
        "enqueued" => stats.enqueued, "processed" => stats.processed, "failed" => stats.failed,
        "retries" => stats.retry_size, "scheduled" => stats.scheduled_size, "dead" => stats.dead_size,
        "busy" => stats.workers_size, "processes" => stats.processes_size }
    rescue StandardError => e
      { "error" => "#{e.class}: #{e.message}" }
    end

    def emails
      row = Forum.sql(<<~SQL).first
        SELECT (SELECT count(*) FROM email_logs WHERE created_at > now() - interval '24 hours') AS sent_24h,
               (SELECT max(created_at) FROM email_logs) AS last_sent_at,
               (SELECT count(*) FROM skipped_email_logs WHERE created_at > now() - interval '24 hours') AS skipped_24h,
               (SELECT count(*) FROM notifications WHERE email_status = 'pending') AS pending
      SQL
      row.merge("last_sent_at" => row["last_sent_at"]&.iso8601,
                "smtp" => "#{Forum.setting('SMTP_ADDRESS')}:#{Forum.setting('SMTP_PORT', '587')}",
                "disable_emails" => Forum.site_setting("disable_emails"))
    rescue StandardError => e
      { "error" => "#{e.class}: #{e.message}" }
    end

    def backups
      files = Dir.glob(File.join(Web::BACKUPS, "*")).select { |f| File.file?(f) }.sort_by { |f| File.mtime(f) }
      last = files.last
      { "count" => files.size, "last" => last && File.basename(last),
        "last_at" => last && File.mtime(last).iso8601, "last_size" => last && File.size(last) }
    end

    def disk
      out = IO.popen(["df", "-Pk", "/", "/var/lib/postgresql", "/var/www/forum/public/uploads", Web::BACKUPS],
                     err: File::NULL, &:read)
      out.lines.drop(1).map(&:split).uniq { |f| f[5] }.map do |f|
        { "mount" => f[5], "size_mb" => f[1].to_i / 1024, "free_mb" => f[3].to_i / 1024, "used" => f[4] }
      end
    rescue StandardError => e
      [{ "error" => e.message }]
    end

    def redis
      info = Forum.redis { |r| r.info("memory") }
      { "status" => "ok", "used_memory" => info["used_memory_human"], "maxmemory" => info["maxmemory_human"] }
    rescue StandardError => e
      { "status" => "#{e.class}: #{e.message}" }
    end

    def postgres
      row = Forum.sql(<<~SQL).first
        SELECT current_setting('server_version') AS version, pg_size_pretty(pg_database_size(current_database())) AS size,
               (SELECT count(*) FROM pg_stat_activity) AS connections, current_setting('max_connections') AS max_connections
      SQL
      row.merge("status" => "ok")
    rescue StandardError => e
      { "status" => "#{e.class}: #{e.message.lines.first&.strip}" }
    end

    # The certificate clients get: the one nginx serves on 443 (nil while nothing listens there),
    # or the file FORUM_TLS_CERT names.
    def certificate
      path = Forum.setting("TLS_CERT")
      cert = if path
               OpenSSL::X509::Certificate.new(File.read(path))
             else
               served_certificate
             end
      return nil if cert.nil?
      { "source" => path || "https://127.0.0.1:443 (#{Forum.hostname})", "subject" => cert.subject.to_s,
        "issuer" => cert.issuer.to_s, "not_after" => cert.not_after.iso8601,
        "days_left" => ((cert.not_after - Time.now) / 86_400).floor }
    rescue StandardError => e
      { "source" => path || "https://127.0.0.1:443", "error" => "#{e.class}: #{e.message}" }
    end

    def served_certificate
      tcp = Socket.tcp("127.0.0.1", 443, connect_timeout: 1)
    rescue SystemCallError, SocketError
      nil
    else
      context = OpenSSL::SSL::SSLContext.new
      context.verify_mode = OpenSSL::SSL::VERIFY_NONE # an expired certificate must still be shown
      ssl = OpenSSL::SSL::SSLSocket.new(tcp, context)
      ssl.hostname = Forum.hostname
      ssl.connect
      ssl.peer_cert
    ensure
      ssl&.close rescue nil
      tcp&.close rescue nil
    end
  end
end
