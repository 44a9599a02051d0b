// web.hpp -- the operators' web view the handler serves under /boardhook/: which request is which,
// who may do what (actions on or off, the CSRF check), and the JSON the page reads. Pure: the
// edge (handler/web.cpp) reads Redis and performs the actions.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dead_letter.hpp"
#include "core/decide.hpp"
#include "core/queue_stats.hpp"
#include "core/rejected_record.hpp"

namespace boardhook::core {

enum class WebRoute { page, asset, overview, dead, rejected, requeue, purge_dead, replay_rejected, not_found };

struct WebRequest {
  std::string_view method;
  std::string_view path;         // below the web view's prefix: "", "app.js", "api/overview", ...
  std::string_view query;
  std::string_view cookie;       // the Cookie header
  std::string_view csrf_header;  // X-CSRF-Token
  std::string_view body;
};

WebRoute web_route(std::string_view path);

inline bool is_action(WebRoute route) {
  return route == WebRoute::requeue || route == WebRoute::purge_dead || route == WebRoute::replay_rejected;
}

// The answer when the request may not go on: a wrong method (405), an action while actions are
// off, or without the CSRF token its cookie holds (403). nullopt: go on.
std::optional<Response> refuse_web(WebRoute route, const WebRequest& request, bool actions_enabled);

// The value of the boardhook_csrf cookie; "" when there is none (or it is not 64 hex digits).
std::string_view csrf_cookie(std::string_view cookie_header);
// The Set-Cookie value that gives a page its token.
std::string csrf_set_cookie(std::string_view token);
inline constexpr std::size_t csrf_token_hex_digits = 64;

// The action's arguments, read from its JSON body; nullopt with `error` when they are missing.
struct ActionArguments {
  std::string event_type;  // requeue, purge-dead
  std::string event_id;    // requeue: only this event ("" for all)
  std::string request_id;  // replay-rejected
};
std::optional<ActionArguments> action_arguments(WebRoute route, std::string_view body, std::string& error);

// "limit" from the query: 1..500, `fallback` when absent or not a number.
std::size_t limit_of(std::string_view query, std::size_t fallback);

// The JSON bodies of the API (see README "Watching it").
struct RedisWhere {
  std::string mode;                    // "single" or "sentinel"
  std::string primary;                 // host:port (or the unix socket)
  std::vector<std::string> sentinels;  // host:port
};
std::string overview_json(const QueueStats& stats, std::string_view health_json, const RedisWhere& redis,
                          bool actions_enabled, int refresh_seconds);
std::string dead_letters_json(std::string_view event_type, const std::vector<std::string>& records);
std::string rejected_json(const std::vector<std::string>& records);

Response json_answer(int status, std::string body);
Response web_error(int status, std::string_view code, std::string_view detail);

}  // namespace boardhook::core
