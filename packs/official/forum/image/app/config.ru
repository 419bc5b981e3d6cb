# frozen_string_literal: true

require_relative "app"
use Forum::RequestLog
run Forum::Web
