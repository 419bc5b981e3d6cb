# frozen_string_literal: true

# Forum::Renderer: what turns a post's raw text into the HTML readers see (markdown, emoji,
# syntax highlighting, oneboxes). Its tables (emoji sprites, highlight grammars, onebox
# templates) hold native state that cannot be shared across fork, as Discourse's JavaScript
# context cannot: they are built in each process after it forks, never in the unicorn master,
# so every unicorn worker carries a full copy. The markdown engine's working context is not
# thread-safe: each thread that may cook at the same time has its own (one per unicorn worker,
# one per Sidekiq thread).
module Forum
  module Renderer
    MB = 1024 * 1024
    TABLES = { "emoji sprites" => 24, "highlight grammars" => 20, "onebox templates" => 12 }.freeze
    CONTEXT_MB = 12

    def self.tables = @tables ||= build(TABLES)

    # The markdown contexts, one per thread that may cook at the same time.
    def self.contexts = @contexts ||= []

    # Builds the tables, and contexts for `threads` threads, before the first request or job.
    def self.warm!(threads: 1)
      tables
      contexts << build("markdown context" => CONTEXT_MB) while contexts.size < threads
      $stderr.puts "renderer: ready in process #{Process.pid}: tables and #{contexts.size} " \
                   "markdown context#{contexts.size == 1 ? '' : 's'} (#{TABLES.values.sum + contexts.size * CONTEXT_MB} MB)"
    end

    def self.build(parts)
      parts.to_h do |name, mb|
        [name, Array.new(mb) { |i| ((name.sum + i) % 251).chr * MB }]
      end
    end
  end
end
