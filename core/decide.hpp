// decide.hpp -- the heart of the handler: one request in, one decision out, no I/O.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/rejected_record.hpp"
#include "core/writes.hpp"

namespace boardhook::core {

// Longest challenge echoed back; Socialboards sends about ten digits.
inline constexpr std::size_t max_challenge_bytes = 256;
// Seconds a client is asked to wait after a 503.
inline constexpr int retry_after_seconds = 5;

struct Request {
  std::string_view method;
  std::string_view query;       // raw QUERY_STRING, no '?'
  std::string_view body;        // the body, or only its first part when it is over the limit
  std::size_t body_bytes = 0;   // size of the whole body as declared/observed
  std::string_view request_id;  // nginx's $request_id
  std::int64_t received_at_ms = 0;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type
  std::string body;
};

enum class LogLevel { debug, info, warn, error };

struct Decision {
  Response response;
  std::optional<StoreEvents> store;
  std::optional<KeepRejected> reject;
  LogLevel log_level = LogLevel::debug;
  std::string log_message;  // never holds the body, a token or a challenge
  std::string refusal;      // the error code of a refused POST ("" otherwise), for metrics
};

Decision decide(const Request& request, const Config& config);

// What replaying a kept refused POST (boardhook-queues replay-rejected) would store: the body
// judged as the handler judges a POST that carried a valid endpoint key. Records refused for an
// authentication reason, and records kept only in part, are never replayed; `refusal` says why
// nothing is stored.
struct ReplayDecision {
  std::optional<StoreEvents> store;
  std::string refusal;
};
ReplayDecision decide_replay(const RejectedRecord& record, const Config& config, std::int64_t now_ms);

// What to answer instead when `Decision::store` could not be carried out.
Response storage_unavailable_response();

}  // namespace boardhook::core
