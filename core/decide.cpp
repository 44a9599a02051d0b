// decide.cpp -- routes a request through guards with early returns: method, size, challenge,
// JSON, envelope; the result says what to answer and what to store.
#include "core/decide.hpp"

#include <algorithm>

#include "core/constant_time.hpp"
#include "core/encoding.hpp"
#include "core/envelope.hpp"
#include "core/event_type.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
#include "core/notification.hpp"
#include "core/query.hpp"
#include "core/rejected_record.hpp"
#include "core/rfc3339.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

namespace {

constexpr std::string_view json_type = "application/json";

std::string error_body(std::string_view code, std::string_view detail) {
  std::string body = "{\"error\":";
  append_json_string(body, code);
  body += ",\"detail\":";
  append_json_string(body, detail);
  body += '}';
  return body;
}

Response error_response(int status, std::string_view code, std::string_view detail) {
  return {status, std::string(json_type), {}, error_body(code, detail)};
}

std::string for_request(std::string_view request_id) {
  return " (request " + std::string(request_id.empty() ? "-" : request_id) + ")";
}

Decision answer(Response response, LogLevel level, std::string message) {
  Decision decision;
  decision.response = std::move(response);
  decision.log_level = level;
  decision.log_message = std::move(message);
  return decision;
}

// A refused POST: the client learns the reason, the body is kept for inspection.
Decision refuse_post(const Request& request, const Config& config, int status, const Problem& problem) {
  Decision decision = answer(error_response(status, problem.code, problem.detail), LogLevel::warn,
                             "POST refused with " + std::to_string(status) + " " + problem.code + ": " + problem.detail +
                                 "; " + std::to_string(request.body_bytes) + " body bytes" + for_request(request.request_id));
  decision.refusal = problem.code;
  if (config.rejected_keep == 0) return decision;
  std::string record = make_rejected_record(request.received_at_ms, request.request_id, status, problem.code,
                                            problem.detail, request.body_bytes, request.body);
  decision.reject = KeepRejected{rejected_key(config.queue_prefix), std::move(record), config.rejected_keep};
  return decision;
}

Decision decide_verification(const Request& request, const Config& config) {
  const QueryParam token = find_query_param(request.query, "verifyToken");
  const QueryParam challenge = find_query_param(request.query, "challenge");
  const std::string context = for_request(request.request_id);

  if (token.is_repeated() || challenge.is_repeated()) {
    const char* name = token.is_repeated() ? "verifyToken" : "challenge";
    return answer(error_response(400, "duplicate_parameter", std::string(name) + " appears more than once"),
                  LogLevel::warn, std::string("verification refused: ") + name + " appears more than once" + context);
  }
  // The token is checked first: a caller without it learns nothing about the rest.
  if (token.value.empty()) {
    return answer(error_response(403, "missing_verify_token", "verifyToken is missing"), LogLevel::warn,
                  "verification refused: no verifyToken" + context);
  }
  if (!matches_any_secret(token.value, config.verify_tokens)) {
    return answer(error_response(403, "invalid_verify_token", "verifyToken does not match"), LogLevel::warn,
                  "verification refused: verifyToken does not match" + context);
  }
  if (challenge.value.empty()) {
    return answer(error_response(400, "missing_challenge", "challenge is missing"), LogLevel::warn,
                  "verification refused: no challenge" + context);
  }
  // The protocol calls the challenge opaque, so any text is echoed; but never control characters
  // or broken UTF-8, and never more than a short string (text/plain and nosniff do the rest).
  if (challenge.value.size() > max_challenge_bytes || !is_printable_utf8(challenge.value)) {
    return answer(error_response(400, "invalid_challenge",
                                 "challenge must be 1-" + std::to_string(max_challenge_bytes) +
                                     " bytes of UTF-8 text without control characters"),
                  LogLevel::warn, "verification refused: challenge is too long or not printable" + context);
  }
  Response response{200, "text/plain; charset=utf-8", {}, challenge.value};
  return answer(std::move(response), LogLevel::info, "verification answered" + context);
}

// With BOARDHOOK_ENDPOINT_KEY set, only a POST that knows the key may be stored: Socialboards
// signs nothing, so the key in the registered URL is what tells its requests from forgeries.
std::optional<Problem> endpoint_key_problem(const Request& request, const Config& config) {
  if (config.endpoint_keys.empty()) return std::nullopt;
  const QueryParam key = find_query_param(request.query, "key");
  if (key.is_repeated()) return Problem{"duplicate_parameter", "key appears more than once"};
  if (key.value.empty()) return Problem{"missing_endpoint_key", "this endpoint needs its key"};
  if (!matches_any_secret(key.value, config.endpoint_keys)) return Problem{"invalid_endpoint_key", "the endpoint key does not match"};
  return std::nullopt;
}

Decision decide_notification(const Request& request, const Config& config) {
  if (const auto problem = endpoint_key_problem(request, config)) {
    return refuse_post(request, config, problem->code == "duplicate_parameter" ? 400 : 403, *problem);
  }
  if (std::max(request.body_bytes, request.body.size()) > config.max_body_bytes) {
    return refuse_post(request, config, 413,
                       {"body_too_large", "the body is larger than " + std::to_string(config.max_body_bytes) + " bytes"});
  }
  if (request.body.size() < request.body_bytes) {
    return refuse_post(request, config, 400, {"incomplete_body", "the body ended before its declared length"});
  }
  const ParsedNotification parsed = parse_notification(request.body, config.max_events);
  if (!parsed.notification) return refuse_post(request, config, 400, parsed.problem);
  const Notification& notification = *parsed.notification;
  if (!config.communities.empty() &&
      std::find(config.communities.begin(), config.communities.end(), notification.community) == config.communities.end()) {
    return refuse_post(request, config, 403, {"community_not_allowed", "CommunityName is not one this endpoint serves"});
  }

  const std::string context = " of type " + printable_event_type(notification.event_type) +
                              (is_documented_event_type(notification.event_type) ? "" : " (not a documented type)") +
                              " for community " + json_string(notification.community) + for_request(request.request_id);
  const std::size_t count = notification.events.size();
  Decision decision = answer({200, std::string(json_type), {}, "{\"stored\":" + std::to_string(count) + "}"},
                             count == 0 ? LogLevel::warn : LogLevel::info,
                             count == 0 ? "notification with an empty Events array" + context + "; nothing to queue"
                                        : "stored " + std::to_string(count) + " event(s)" + context);
  if (count == 0) return decision;

  StoreEvents store;
  store.queue_key = queue_key(config.queue_prefix, notification.event_type);
  store.event_types_key = event_types_key(config.queue_prefix);
  store.counters_key = counters_key(config.queue_prefix);
  store.event_type = notification.event_type;
  store.envelopes.reserve(count);
  const std::string received_at = format_rfc3339_ms(request.received_at_ms);
  for (std::size_t i = 0; i < count; ++i) {
    const NotificationItem& item = notification.events[i];
    store.envelopes.push_back(make_envelope({request.request_id, received_at, notification.community,
                                             notification.event_type, item.ticket_id, i, count, item.raw}));
  }
  decision.store = std::move(store);
  return decision;
}

}  // namespace

Response storage_unavailable_response() {
  Response response = error_response(503, "storage_unavailable", "events could not be stored; try again later");
  response.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return response;
}

ReplayDecision decide_replay(const RejectedRecord& record, const Config& config, std::int64_t now_ms) {
  ReplayDecision replay;
  if (is_authentication_refusal(record.reason)) {
    replay.refusal = "it was refused for " + record.reason +
                     ", an authentication reason: a request that did not prove who sent it is never replayed";
    return replay;
  }
  if (record.body_truncated) {
    replay.refusal = "it was kept only in part (" + std::to_string(record.body_bytes) + " bytes); it cannot be replayed";
    return replay;
  }
  // The endpoint key was checked (or not needed) when the request came in, and its refusals are
  // never replayed (above): judge the body as the handler judges a POST that carried a valid key.
  Config judged_as = config;
  judged_as.endpoint_keys.clear();
  Request request;
  request.method = "POST";
  request.body = record.body;
  request.body_bytes = record.body.size();
  request.request_id = record.request_id;
  request.received_at_ms = now_ms;
  Decision decision = decide(request, judged_as);
  if (decision.store) {
    replay.store = std::move(decision.store);
  } else if (decision.response.status == 200) {
    replay.refusal = "it holds no events";
  } else {
    replay.refusal = "it is still refused: " + decision.refusal + ": " + decision.response.body;
  }
  return replay;
}

Decision decide(const Request& request, const Config& config) {
  if (request.method == "GET") return decide_verification(request, config);
  if (request.method == "POST") return decide_notification(request, config);
  Response response = error_response(405, "method_not_allowed", "only GET (verification) and POST (events) are served");
  response.headers.emplace_back("Allow", "GET, POST");
  // The method is the client's choice: log it only when it looks like a method name.
  const bool is_plain_method = request.method.size() <= 16 && std::all_of(request.method.begin(), request.method.end(),
                                                                          [](char c) { return c >= 'A' && c <= 'Z'; });
  return answer(std::move(response), LogLevel::warn,
                "method " + (is_plain_method ? std::string(request.method) : std::string("(unprintable)")) +
                    " refused with 405" + for_request(request.request_id));
}

}  // namespace boardhook::core
