# frozen_string_literal: true

# The forum's core: settings, the Postgres and Redis connections, the request log.
# Loaded by the web app (unicorn), the Sidekiq worker and forum-runner alike, so every
# process reads the same settings from the same environment (/etc/forum/forum.env).
require "json"
require "logger"
require "securerandom"
require "time"
require "connection_pool"
require "pg"
require "redis"

# redis-rb 4.8 warns on every call about a Redis 5 change that Sidekiq 6.4 does not depend on.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

module Forum
  ROOT = File.expand_path("..", __dir__)
  VERSION = "2.9.1"

  # FORUM_<NAME> from the environment (the supervisor reads /etc/forum/forum.env before
  # every start, so a changed setting takes effect when the process restarts).
  def self.setting(name, default = nil)
    value = ENV["FORUM_#{name}"]
    value.nil? || value.empty? ? default : value
  end

  def self.hostname = setting("HOSTNAME", "forum.example")
  def self.process_name = @process_name ||= File.basename($PROGRAM_NAME)
  class << self
    attr_writer :process_name
  end

  # -- Postgres --------------------------------------------------------------------------

  def self.connect_db
    conn = PG.connect(
      dbname: setting("DB_NAME", "forum"),
      host: setting("DB_HOST", "/var/run/postgresql"),
      port: Integer(setting("DB_PORT", "5432")),
      user: setting("DB_USERNAME", "forum"),
      password: setting("DB_PASSWORD"),
      connect_timeout: 3,
      application_name: "forum-#{process_name}"
    )
    conn.type_map_for_results = PG::BasicTypeMapForResults.new(conn)
    conn
  end

  def self.db_pool
    @db_pool ||= ConnectionPool.new(size: Integer(setting("DB_POOL", "5")), timeout: 5) { connect_db }
  end

  # A query's rows as hashes with string keys, values cast (integers, times, booleans).
  def self.sql(query, *params)
    db_pool.with { |conn| conn.exec_params(query, params).to_a }
  rescue PG::ConnectionBad, PG::UnableToSend
    # The server went away (a restart); the next checkout gets a fresh connection.
    reset_db!
    raise
  end

  def self.sql_value(query, *params)
    row = sql(query, *params).first
    row&.values&.first
  end

  def self.transaction(&block)
    db_pool.with do |conn|
      conn.transaction { block.call(conn) }
    end
  end

  def self.reset_db!
    old = @db_pool
    @db_pool = nil
    old&.shutdown { |conn| conn.close rescue nil }
  end

  # -- Redis ------------------------------------------------------------------------------

  def self.redis_url = setting("REDIS_URL", "redis://127.0.0.1:6379/0")

  def self.redis_pool
    @redis_pool ||= ConnectionPool.new(size: Integer(setting("REDIS_POOL", "5")), timeout: 5) do
      Redis.new(url: redis_url, connect_timeout: 2, read_timeout: 5, write_timeout: 5)
    end
  end

  def self.redis(&block) = redis_pool.with(&block)

  def self.reset_redis!
    old = @redis_pool
    @redis_pool = nil
    old&.shutdown { |conn| conn.close rescue nil }
  end

  # -- site settings (the admin's switches, kept in the database as Discourse does) -------

  SITE_DEFAULTS = {
    "title" => "Forum",
    "disable_emails" => "no",          # yes | no | non-staff
    "max_upload_kb" => "10240",
    "digest_after_days" => "7"
  }.freeze

  def self.site_setting(name)
    @site_cache ||= {}
    cached = @site_cache[name]
    return cached[1] if cached && cached[0] > Time.now
    value = sql_value("SELECT value FROM site_settings WHERE name = $1", name) || SITE_DEFAULTS.fetch(name, nil)
    @site_cache[name] = [Time.now + 5, value] # other processes see a change within 5 s
    value
  end

  # -- logs ------------------------------------------------------------------------------

  LOG_DIR = "/var/log/forum"

  # production.log: one line per request, as lograge writes it for a Rails app.
  def self.request_log
    @request_log ||= begin
      logger = Logger.new(File.join(LOG_DIR, "production.log"))
      logger.formatter = proc do |severity, time, _prog, msg|
        "#{severity[0]}, [#{time.utc.iso8601(3)} ##{Process.pid}] #{severity.rjust(5)} -- : #{msg}\n"
      end
      logger
    end
  end

  def self.reopen_logs!
    @request_log = nil
  end
end

require_relative "forum/mailer"
require_relative "forum/message_bus"
require_relative "forum/model"
