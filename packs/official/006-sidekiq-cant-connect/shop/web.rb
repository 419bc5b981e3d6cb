# Order intake: every few seconds a customer places an order and a receipt job is enqueued.
require "securerandom"
require_relative "jobs"

$stdout.sync = true
rate = Float(ENV.fetch("ORDER_RATE_SECONDS", "3"))
order_id = 10_000 + rand(1000)
puts "shop-web: taking orders, enqueueing receipts on #{ENV.fetch("REDIS_URL").sub(/:[^:@\/]*@/, ":***@")}"
loop do
  order_id += 1
  begin
    ReceiptJob.perform_async(order_id, SecureRandom.hex(8))
    waiting = Sidekiq::Queue.new("default").size
    puts "order #{order_id} placed, receipt job enqueued (#{waiting} waiting in queue default)"
  rescue StandardError => e
    puts "order #{order_id}: could not enqueue receipt: #{e.class}: #{e.message}"
  end
  sleep rate
end
