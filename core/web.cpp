// web.cpp -- routes, permissions and JSON of the web view.
#include "core/web.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "core/constant_time.hpp"
#include "core/envelope.hpp"
#include "core/json_escape.hpp"
#include "core/query.hpp"

namespace boardhook::core {

namespace json = boost::json;

namespace {

struct RouteRow {
  std::string_view path;
  WebRoute route;
  std::string_view method;  // the one method it answers
};

// Everything the view answers; the page's files are matched apart (any other name is a 404).
constexpr RouteRow routes[] = {
    {"", WebRoute::page, "GET"},
    {"api/overview", WebRoute::overview, "GET"},
    {"api/dead", WebRoute::dead, "GET"},
    {"api/rejected", WebRoute::rejected, "GET"},
    {"api/requeue", WebRoute::requeue, "POST"},
    {"api/purge-dead", WebRoute::purge_dead, "POST"},
    {"api/replay-rejected", WebRoute::replay_rejected, "POST"},
};

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string_view method_of(WebRoute route) {
  for (const RouteRow& row : routes) {
    if (row.route == route) return row.method;
  }
  return "GET";  // the page's files
}

json::value parse_or_null(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  return ec ? json::value(nullptr) : value;
}

}  // namespace

WebRoute web_route(std::string_view path) {
  for (const RouteRow& row : routes) {
    if (row.path == path) return row.route;
  }
  if (path == "app.js" || path == "app.css" || path == "index.html") return WebRoute::asset;
  return WebRoute::not_found;
}

Response json_answer(int status, std::string body) { return {status, "application/json", {}, std::move(body)}; }

Response web_error(int status, std::string_view code, std::string_view detail) {
  std::string body = "{\"error\":";
  append_json_string(body, code);
  body += ",\"detail\":";
  append_json_string(body, detail);
  body += '}';
  return json_answer(status, std::move(body));
}

std::string_view csrf_cookie(std::string_view cookie_header) {
  constexpr std::string_view name = "boardhook_csrf=";
  while (!cookie_header.empty()) {
    const std::size_t semicolon = cookie_header.find(';');
    std::string_view pair = cookie_header.substr(0, semicolon);
    cookie_header = semicolon == std::string_view::npos ? std::string_view() : cookie_header.substr(semicolon + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (!pair.starts_with(name)) continue;
    const std::string_view value = pair.substr(name.size());
    return value.size() == csrf_token_hex_digits && is_hex(value) ? value : std::string_view();
  }
  return {};
}

std::string csrf_set_cookie(std::string_view token) {
  // Strict: a page of another site can never make the browser send it; the page's script reads
  // it (so not HttpOnly) and sends it back in X-CSRF-Token, which another site cannot forge.
  return "boardhook_csrf=" + std::string(token) + "; Path=/; SameSite=Strict; Secure";
}

std::optional<Response> refuse_web(WebRoute route, const WebRequest& request, bool actions_enabled) {
  if (route == WebRoute::not_found) return web_error(404, "not_found", "no such page");
  if (request.method != method_of(route)) {
    Response refusal = web_error(405, "method_not_allowed", std::string(method_of(route)) + " only");
    refusal.headers.emplace_back("Allow", std::string(method_of(route)));
    return refusal;
  }
  if (!is_action(route)) return std::nullopt;
  if (!actions_enabled) {
    return web_error(403, "actions_disabled", "actions are off (BOARDHOOK_WEB_ACTIONS=on turns them on)");
  }
  const std::string_view token = csrf_cookie(request.cookie);
  // Double submit: the header must repeat the cookie, which only the page's own origin can read.
  if (token.empty() || !constant_time_equals(token, request.csrf_header)) {
    return web_error(403, "csrf_failed", "the X-CSRF-Token header does not match this page's token; reload the page");
  }
  return std::nullopt;
}

std::optional<ActionArguments> action_arguments(WebRoute route, std::string_view body, std::string& error) {
  const json::value value = parse_or_null(body);
  if (!value.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  const json::object& o = value.get_object();
  const auto text = [&o](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  ActionArguments arguments{text("type"), text("id"), text("request_id")};
  if (route == WebRoute::replay_rejected && arguments.request_id.empty()) {
    error = "request_id is missing";
    return std::nullopt;
  }
  if (route != WebRoute::replay_rejected && arguments.event_type.empty()) {
    error = "type is missing";
    return std::nullopt;
  }
  return arguments;
}

std::size_t limit_of(std::string_view query, std::size_t fallback) {
  const QueryParam limit = find_query_param(query, "limit");
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(limit.value.data(), limit.value.data() + limit.value.size(), value);
  if (limit.value.empty() || ec != std::errc{} || end != limit.value.data() + limit.value.size() || value == 0) return fallback;
  return std::min<std::size_t>(value, 500);
}

std::string overview_json(const QueueStats& stats, std::string_view health_json, const RedisWhere& redis,
                          bool actions_enabled, int refresh_seconds) {
  json::object out;
  out["stats"] = to_json(stats);
  out["health"] = parse_or_null(health_json);
  json::array sentinels;
  for (const std::string& sentinel : redis.sentinels) sentinels.emplace_back(sentinel);
  out["redis"] = json::object{{"mode", redis.mode}, {"primary", redis.primary}, {"sentinels", std::move(sentinels)}};
  out["actions"] = actions_enabled;
  out["refresh_seconds"] = refresh_seconds;
  return json::serialize(out);
}

std::string dead_letters_json(std::string_view event_type, const std::vector<std::string>& records) {
  json::array rows;
  for (const std::string& text : records) {
    const auto record = parse_dead_record(text);
    if (!record) continue;
    const auto summary = parse_envelope(record->envelope);
    json::object row;
    row["failed_at"] = record->failed_at;
    row["worker"] = record->worker;
    row["attempts"] = record->attempts;
    row["exit_code"] = record->failure.exit_code ? json::value(*record->failure.exit_code) : json::value(nullptr);
    row["signal"] = record->failure.signal ? json::value(*record->failure.signal) : json::value(nullptr);
    row["http_status"] = record->failure.http_status ? json::value(*record->failure.http_status) : json::value(nullptr);
    row["timed_out"] = record->failure.timed_out;
    row["error"] = record->failure.error;
    row["stderr_tail"] = record->failure.stderr_tail;
    row["event_id"] = summary ? json::value(summary->id) : json::value(nullptr);
    row["ticket_id"] = summary && summary->ticket_id ? json::value(*summary->ticket_id) : json::value(nullptr);
    row["envelope"] = parse_or_null(record->envelope);
    rows.emplace_back(std::move(row));
  }
  return json::serialize(json::object{{"type", event_type}, {"dead", std::move(rows)}});
}

std::string rejected_json(const std::vector<std::string>& records) {
  json::array rows;
  for (const std::string& text : records) {
    const auto record = parse_rejected_record(text);
    if (!record) continue;
    rows.emplace_back(json::object{{"at", record->at},
                                   {"request_id", record->request_id},
                                   {"status", record->status},
                                   {"reason", record->reason},
                                   {"detail", record->detail},
                                   {"body_bytes", record->body_bytes},
                                   {"body_truncated", record->body_truncated},
                                   {"replayable", !record->body_truncated && !is_authentication_refusal(record->reason)}});
  }
  return json::serialize(json::object{{"rejected", std::move(rows)}});
}

}  // namespace boardhook::core
