# frozen_string_literal: true

module Forum
  # A small message bus in the manner of Discourse's: every message gets an id from Redis and
  # is kept in a short backlog; clients long-poll /message-bus/poll with the last id they saw.
  # A poll with nothing new is parked (the request is hijacked from unicorn, so no worker is
  # held) until a message is published on Redis pub/sub, or answered with [] after POLL_SECONDS.
  # Like Discourse's, a parked poll streams by default (HTTP/1.1 and no `Dont-Chunk` header): the
  # answer is chunked, a first "[]" chunk goes out at once, each message follows as its own chunk
  # the moment it is published, and the poll stays open until POLL_SECONDS are up. A client that
  # sends `Dont-Chunk: true` (or speaks HTTP/1.0) gets one plain JSON answer that ends the poll.
  module MessageBus
    BACKLOG_KEY = "message-bus:backlog"
    LAST_ID_KEY = "message-bus:last-id"
    CHANNEL = "message-bus:published"
    BACKLOG_SIZE = 500
    POLL_SECONDS = 25

    def self.publish(channel, data)
      Forum.redis do |redis|
        id = redis.incr(LAST_ID_KEY)
        message = JSON.generate("message_id" => id, "channel" => channel, "data" => data)
        redis.multi do |tx|
          tx.rpush(BACKLOG_KEY, message)
          tx.ltrim(BACKLOG_KEY, -BACKLOG_SIZE, -1)
          tx.publish(CHANNEL, message)
        end
        id
      end
    end

    def self.last_id = Forum.redis { |redis| redis.get(LAST_ID_KEY).to_i }

    # Messages newer than last_id on the given channels (all channels when none are given).
    def self.since(last_id, channels)
      Forum.redis { |redis| redis.lrange(BACKLOG_KEY, 0, -1) }
           .map { |raw| JSON.parse(raw) }
           .select { |m| m["message_id"] > last_id && (channels.empty? || channels.include?(m["channel"])) }
    end

    # Parked clients of this process, and the thread that wakes them.
    class Waiters
      Client = Struct.new(:io, :last_id, :channels, :deadline, :started, :log, :chunked)

      # Each chunk ends with this separator, as Discourse's does: proxies may re-chunk a stream.
      SEPARATOR = "\r\n|\r\n"
      CHUNKED_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n" \
                     "Cache-Control: must-revalidate, private, max-age=0\r\n" \
                     "Transfer-Encoding: chunked\r\nX-Content-Type-Options: nosniff\r\n" \
                     "Connection: close\r\n\r\n"

      def initialize
        @lock = Mutex.new
        @clients = []
        @thread = nil
      end

      def park(client)
        # A streaming poll gets its headers and a first empty chunk at once.
        return finish(client) if client.chunked && !chunk(client, "[]", head: true)

        @lock.synchronize do
          @clients << client
          start_threads unless @thread&.alive?
        end
      end

      def waiting = @lock.synchronize { @clients.size }

      private

      def start_threads
        @thread = Thread.new { listen }
        Thread.new { expire_loop }
      end

      def listen
        Redis.new(url: Forum.redis_url, reconnect_attempts: 0).subscribe(CHANNEL) do |on|
          on.message do |_channel, raw|
            message = JSON.parse(raw)
            data = JSON.generate([message])
            # Streaming polls get the message as a chunk and stay parked (written under the lock,
            # so the expiry never ends one halfway through a chunk); a plain poll ends with it.
            plain, gone = @lock.synchronize do
              ready = @clients.select { |c| c.channels.empty? || c.channels.include?(message["channel"]) }
              streaming, plain = ready.partition(&:chunked)
              gone = streaming.reject { |client| chunk(client, data) }
              @clients -= plain + gone
              [plain, gone]
            end
            plain.each { |client| answer(client, [message]) }
            gone.each { |client| finish(client) }
          end
        end
      rescue StandardError => e
        warn "message-bus: subscriber lost Redis (#{e.class}: #{e.message}); retrying"
        sleep 1
        retry
      end

      def expire_loop
        loop do
          sleep 1
          now = Time.now
          @lock.synchronize do
            expired = @clients.select { |c| c.deadline <= now }
            @clients -= expired
            expired
          end.each { |client| client.chunked ? finish(client, last_chunk: true) : answer(client, []) }
        end
      end

      # Writes one chunk of a streaming poll (its headers first when head is set); false when
      # the client (or nginx) is gone.
      def chunk(client, data, head: false)
        body = data + SEPARATOR
        client.io.write("#{head ? CHUNKED_HEAD : ''}#{body.bytesize.to_s(16)}\r\n#{body}\r\n")
        true
      rescue IOError, SystemCallError
        false
      end

      # Ends a streaming poll: a last empty chunk and the chunked terminator, as Discourse's does.
      def finish(client, last_chunk: false)
        client.io.write("0\r\n\r\n") if last_chunk && chunk(client, "[]")
      rescue IOError, SystemCallError
        nil
      ensure
        client.io.close rescue nil
        client.log&.call(200, Time.now - client.started)
      end

      def answer(client, messages)
        body = JSON.generate(messages)
        client.io.write("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n" \
                        "Cache-Control: must-revalidate, private, max-age=0\r\n" \
                        "Content-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}")
      rescue IOError, SystemCallError
        nil # the client (or nginx) gave up first
      ensure
        client.io.close rescue nil
        client.log&.call(200, Time.now - client.started)
      end
    end

    def self.waiters = @waiters ||= Waiters.new
  end
end
