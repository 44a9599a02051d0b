// web.cpp -- the web view's requests: the page's files, the JSON API, the actions.
#include "handler/web.hpp"

#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <chrono>

#include "core/event_type.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
#include "core/metrics.hpp"
#include "core/query.hpp"
#include "handler/web_assets.hpp"
#include "io/queue_actions.hpp"
#include "io/queue_stats.hpp"

namespace boardhook::handler {

namespace {

constexpr int refresh_seconds = 3;

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// 32 bytes from the kernel's random source, as hex.
std::string new_csrf_token() {
  unsigned char bytes[core::csrf_token_hex_digits / 2];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string token;
  for (const unsigned char byte : bytes) {
    token += hex[byte >> 4];
    token += hex[byte & 15];
  }
  return token;
}

core::Response redis_unavailable(const std::string& error) {
  spdlog::warn("web view: redis unavailable: \"{}\"", error);
  core::Response response = core::web_error(503, "redis_unavailable", "Redis did not answer; try again");
  response.headers.emplace_back("Retry-After", "3");
  return response;
}

core::Response page_file(std::string_view name, std::string_view cookie) {
  const auto asset = web_asset(name.empty() ? "index.html" : name);
  if (!asset) return core::web_error(404, "not_found", "no such page");
  core::Response response{200, std::string(asset->content_type), {}, std::string(asset->content)};
  // The page gets its CSRF token with itself (a cookie its script reads back).
  if (name.empty() && core::csrf_cookie(cookie).empty()) response.headers.emplace_back("Set-Cookie", core::csrf_set_cookie(new_csrf_token()));
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  return response;
}

core::RedisWhere redis_where(const core::Config& config, const io::RedisConnection& redis) {
  core::RedisWhere where;
  where.mode = config.redis.is_sentinel() ? "sentinel" : "single";
  where.primary = redis.address();
  for (const core::HostPort& sentinel : config.redis.sentinels) where.sentinels.push_back(sentinel.host + ":" + std::to_string(sentinel.port));
  return where;
}

core::Response overview(WebContext& context) {
  std::string error;
  const auto stats = io::collect_queue_stats(context.redis, context.config.queue_prefix, context.config.spool_dir, error);
  if (!stats) return redis_unavailable(error);
  return core::json_answer(200, core::overview_json(*stats, context.health_json(), redis_where(context.config, context.redis),
                                                    context.config.web_actions == "on", refresh_seconds));
}

core::Response listing(const core::WebRequest& request, WebContext& context, bool dead) {
  std::string error;
  std::string type;
  if (dead) {
    const auto parsed = core::parse_event_type_argument(core::find_query_param(request.query, "type").value, error);
    if (!parsed) return core::web_error(400, "invalid_type", error);
    type = *parsed;
  }
  const std::string key = dead ? core::dead_key(context.config.queue_prefix, type) : core::rejected_key(context.config.queue_prefix);
  const std::string last = std::to_string(core::limit_of(request.query, 50) - 1);
  const auto records = context.redis.call({"LRANGE", key, "0", last}, error);
  if (!records || records->is_error()) return redis_unavailable(records ? records->text : error);
  return core::json_answer(200, dead ? core::dead_letters_json(type, records->texts()) : core::rejected_json(records->texts()));
}

// An action, as boardhook-queues does it (io/queue_actions), logged.
core::Response act(core::WebRoute route, const core::WebRequest& request, WebContext& context) {
  std::string error;
  const auto arguments = core::action_arguments(route, request.body, error);
  if (!arguments) return core::web_error(400, "invalid_action", error);
  std::string type;
  if (route != core::WebRoute::replay_rejected) {
    const auto parsed = core::parse_event_type_argument(arguments->event_type, error);
    if (!parsed) return core::web_error(400, "invalid_type", error);
    type = *parsed;
  }
  const std::string& prefix = context.config.queue_prefix;
  io::ActionResult result;
  std::string body;
  switch (route) {
    case core::WebRoute::requeue: {
      core::DeadFilter only;
      only.event_id = arguments->event_id;
      result = io::requeue_dead(context.redis, prefix, type, only);
      body = "{\"requeued\":" + std::to_string(result.count) + "}";
      break;
    }
    case core::WebRoute::purge_dead:
      result = io::purge_dead(context.redis, prefix, type);
      body = "{\"purged\":" + std::to_string(result.count) + "}";
      break;
    default:
      result = io::replay_rejected(context.redis, context.config, arguments->request_id, now_ms());
      if (!result.found) return core::web_error(404, "not_found", "no rejected request with that id");
      if (!result.refusal.empty()) return core::web_error(409, "not_replayed", result.refusal);
      body = "{\"stored\":" + std::to_string(result.count) + ",\"queue\":" + core::json_string(result.queue) + "}";
      break;
  }
  if (!result.redis_error.empty()) return redis_unavailable(result.redis_error);
  spdlog::info("web view: {} {}", request.path, body);
  return core::json_answer(200, std::move(body));
}

}  // namespace

core::Response serve_web(const core::WebRequest& request, WebContext& context) {
  const core::WebRoute route = core::web_route(request.path);
  if (auto refusal = core::refuse_web(route, request, context.config.web_actions == "on")) {
    if (refusal->status == 403) spdlog::warn("web view: {} {} refused: {}", request.method, request.path, refusal->body);
    return std::move(*refusal);
  }
  switch (route) {
    case core::WebRoute::page:
    case core::WebRoute::asset: return page_file(request.path, request.cookie);
    case core::WebRoute::overview: return overview(context);
    case core::WebRoute::dead: return listing(request, context, true);
    case core::WebRoute::rejected: return listing(request, context, false);
    default: return act(route, request, context);
  }
}

core::Response serve_queue_metrics(WebContext& context) {
  std::string error;
  const auto stats = io::collect_queue_stats(context.redis, context.config.queue_prefix, "", error);
  if (!stats) spdlog::warn("/metrics/queues: redis unavailable: \"{}\"", error);
  return {200, "text/plain; version=0.0.4; charset=utf-8", {}, core::render_queue_metrics(stats ? &*stats : nullptr)};
}

}  // namespace boardhook::handler
