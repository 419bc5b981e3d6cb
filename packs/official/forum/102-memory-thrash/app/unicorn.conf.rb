# frozen_string_literal: true

# unicorn: the forum's app server. nginx proxies to it on 127.0.0.1:3000.
worker_processes Integer(ENV.fetch("FORUM_UNICORN_WORKERS", "3"))
listen ENV.fetch("FORUM_UNICORN_LISTEN", "127.0.0.1:3000"), backlog: 256
working_directory "/var/www/forum"
pid "/var/www/forum/tmp/pids/unicorn.pid"
timeout Integer(ENV.fetch("FORUM_UNICORN_TIMEOUT", "30"))
preload_app true
require_relative "../lib/forum/renderer"

after_fork do |_server, _worker|
  # Connections are per process: nothing opened in the master may be shared.
  Forum.reset_db!
  Forum.reset_redis!
  Forum.reopen_logs!
  # The renderer cannot be shared across fork: each worker builds its own (lib/forum/renderer.rb).
  Forum::Renderer.warm!(threads: 1)
end
