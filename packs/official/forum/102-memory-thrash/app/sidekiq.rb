# frozen_string_literal: true

# The Sidekiq worker's boot file (sidekiq -r): loads the jobs and says where the worker's
# pid is kept (forumctl restart sidekiq reads it).
concurrency = Integer(ENV.fetch("FORUM_SIDEKIQ_CONCURRENCY", "5"))
ENV["FORUM_DB_POOL"] = [Integer(ENV.fetch("FORUM_DB_POOL", "5")), concurrency].max.to_s
require_relative "../lib/forum/jobs"
require_relative "../lib/forum/renderer"

Forum.process_name = "sidekiq"
PIDFILE = File.join(Forum::ROOT, "tmp/pids/sidekiq.pid")

Sidekiq.configure_server do |config|
  config.redis = { url: Forum.redis_url, size: concurrency + 5 }
  # One line per failure, naming the job (the default handler logs the whole backtrace).
  config.error_handlers.clear
  config.error_handlers << proc do |error, context|
    job = context[:job] || {}
    Sidekiq.logger.warn("#{job['class']} jid=#{job['jid']} failed: #{error.class}: #{error.message.to_s.strip}")
  end
  config.on(:startup) do
    File.write(PIDFILE, "#{Process.pid}\n")
    # One markdown context per thread: the renderer is not thread-safe (lib/forum/renderer.rb).
    Forum::Renderer.warm!(threads: concurrency)
    Sidekiq.logger.info("forum #{Forum::VERSION}: mail via #{Forum.setting('SMTP_ADDRESS')}:" \
                        "#{Forum.setting('SMTP_PORT', '587')} as #{Forum.setting('SMTP_USER_NAME', '(no login)')}")
  end
  config.on(:shutdown) { File.delete(PIDFILE) if File.exist?(PIDFILE) }
end
