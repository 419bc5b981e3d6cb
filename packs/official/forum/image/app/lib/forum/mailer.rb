# frozen_string_literal: true

require "net/smtp"

module Forum
  # Outgoing mail over SMTP to the provider named in FORUM_SMTP_ADDRESS, logged in with
  # FORUM_SMTP_USER_NAME / FORUM_SMTP_PASSWORD. Each worker thread keeps its SMTP session
  # open for a few messages (as pooling mailers do), so a backlog drains at a steady rate;
  # any error closes it and the next message opens a new one.
  module Mailer
    SESSION_MESSAGES = 50  # messages per SMTP session before it is closed and opened again
    SESSION_IDLE = 10      # seconds an unused session may stay open

    class NotConfigured < StandardError; end

    # Net::SMTP with Nagle's algorithm off: the message's closing "." is a second small write,
    # which Nagle would hold until the server's delayed ACK (40 ms a message).
    class Client < Net::SMTP
      private

      def tcp_socket(address, port)
        socket = super
        socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
        socket
      end
    end

    def self.settings
      {
        address: Forum.setting("SMTP_ADDRESS"),
        port: Integer(Forum.setting("SMTP_PORT", "587")),
        user_name: Forum.setting("SMTP_USER_NAME"),
        password: Forum.setting("SMTP_PASSWORD"),
        authentication: Forum.setting("SMTP_AUTHENTICATION", "plain").to_sym,
        domain: Forum.setting("SMTP_DOMAIN", Forum.hostname),
        open_timeout: Float(Forum.setting("SMTP_OPEN_TIMEOUT", "5")),
        read_timeout: Float(Forum.setting("SMTP_READ_TIMEOUT", "10"))
      }
    end

    def self.from_address = Forum.setting("NOTIFICATION_EMAIL", "noreply@#{Forum.hostname}")

    # Sends one message; returns its Message-ID. Raises the SMTP error as it came.
    def self.deliver(to:, subject:, body:, message_id:, headers: {})
      text = compose(to: to, subject: subject, body: body, message_id: message_id, headers: headers)
      with_session do |smtp|
        smtp.send_message(text, from_address, to)
      end
      message_id
    end

    def self.compose(to:, subject:, body:, message_id:, headers:)
      lines = [
        "From: #{Forum.site_setting('title')} <#{from_address}>",
        "To: #{to}",
        "Subject: #{subject}",
        "Date: #{Time.now.rfc2822}",
        "Message-ID: <#{message_id}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "Auto-Submitted: auto-generated",
        "List-ID: <#{Forum.hostname}>"
      ]
      headers.each { |name, value| lines << "#{name}: #{value}" }
      "#{lines.join("\r\n")}\r\n\r\n#{body.gsub(/\r?\n/, "\r\n")}\r\n"
    end

    def self.with_session
      state = Thread.current[:forum_smtp]
      if state && (state[:sent] >= SESSION_MESSAGES || Time.now - state[:used] > SESSION_IDLE)
        close_session
        state = nil
      end
      state ||= (Thread.current[:forum_smtp] = { smtp: open_session, sent: 0, used: Time.now })
      begin
        result = yield state[:smtp]
      rescue StandardError
        close_session
        raise
      end
      state[:sent] += 1
      state[:used] = Time.now
      result
    end

    def self.open_session
      s = settings
      raise NotConfigured, "FORUM_SMTP_ADDRESS is not set" unless s[:address]
      smtp = Client.new(s[:address], s[:port])
      smtp.open_timeout = s[:open_timeout]
      smtp.read_timeout = s[:read_timeout]
      if s[:user_name]
        smtp.start(s[:domain], s[:user_name], s[:password], s[:authentication])
      else
        smtp.start(s[:domain])
      end
      smtp
    end

    def self.close_session
      state = Thread.current[:forum_smtp]
      Thread.current[:forum_smtp] = nil
      return unless state
      begin
        state[:smtp].finish if state[:smtp].started?
      rescue StandardError, Net::ReadTimeout
        nil
      end
    end
  end
end
