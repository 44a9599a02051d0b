// web.hpp -- the edge of the operators' web view and of /metrics/queues: reads Redis and the spool,
// performs the actions, and answers what core/web.hpp decides.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "core/decide.hpp"
#include "core/web.hpp"
#include "io/redis_connection.hpp"
#include "io/spool.hpp"

namespace boardhook::handler {

struct WebContext {
  const core::Config& config;
  io::RedisConnection& redis;                  // this thread's, for the view's reads (short timeout)
  io::Spool* spool;                            // may be null
  std::function<std::string()> health_json;    // the /healthz body
};

core::Response serve_web(const core::WebRequest& request, WebContext& context);

// /metrics/queues: one snapshot of the queues in Prometheus text.
core::Response serve_queue_metrics(WebContext& context);

}  // namespace boardhook::handler
