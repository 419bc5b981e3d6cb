# Background jobs of the shop. Loaded by the Sidekiq worker (-r) and by anything that enqueues.
require "sidekiq"
require "sidekiq/api"

# redis-rb 4.8 warns on every enqueue about a Redis 5 change that Sidekiq 6.4 does not depend on.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

# Sends the receipt e-mail for an order; here it records the receipt in Redis.
class ReceiptJob
  include Sidekiq::Worker
  sidekiq_options queue: "default", retry: 3

  def perform(order_id, token)
    Sidekiq.redis { |conn| conn.set("receipt:#{token}", "sent for order #{order_id}", ex: 3600) }
    logger.info("receipt sent for order #{order_id}")
  end
end
