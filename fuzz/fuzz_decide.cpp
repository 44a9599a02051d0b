// fuzz_decide.cpp -- libFuzzer target: decide() on any method, query and body.
//
// Input: FLAGS [METHOD '\n'] QUERY '\n' BODY   (no '\n' at all: the rest is QUERY, BODY is empty)
//   FLAGS bits 0-2  the method: GET, POST, HEAD, PUT, "", "get", "POST " or 7 = METHOD from the input
//         bit 3     the declared body length is one more than the bytes given (a cut-off body)
//         bit 4     tight limits: 512 body bytes, 1 event
//         bit 5     keep no rejected bodies (rejected_keep = 0)
//         bit 6     an endpoint key is configured (?key=)
//         bit 7     a CommunityName allowlist is configured
// Checks, besides memory safety: every answer has a content type, a known status and headers
// without CR/LF or control bytes; error answers are {"error","detail"} and never hold a secret;
// a 200 GET echoes exactly the decoded challenge of a good token; a 200 POST carries every item
// of the body in a parseable envelope (its id recomputed, its `event` bytes found in the body),
// and a refused POST keeps a record whose body is a prefix of the request's.
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"
#include "core/decide.hpp"
#include "core/encoding.hpp"
#include "core/envelope.hpp"
#include "core/json_spans.hpp"
#include "core/keys.hpp"
#include "core/query.hpp"
#include "core/rfc3339.hpp"
#include "core/utf8.hpp"

using namespace boardhook::core;
namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 7> fixed_methods = {"GET", "POST", "HEAD", "PUT", "", "get", "POST "};
constexpr std::string_view request_id = "0123456789abcdef0123456789abcdef";
constexpr std::int64_t received_at_ms = 1764242060123;  // 2025-11-27T11:14:20.123Z

// The secrets: none of them may ever appear in an error answer or a log line.
// The first is tests/fixtures/verification.txt's, so that the seeds made from it reach the echo.
const std::vector<std::string> verify_tokens = {"tidal-compass-2659", "rotated-token-2"};
const std::vector<std::string> endpoint_keys = {"endpoint-key-0a9b"};

Config make_config(std::uint8_t flags) {
  Config config;
  config.verify_tokens = verify_tokens;
  if (flags & 0x10) {
    config.max_body_bytes = 512;
    config.max_events = 1;
  }
  if (flags & 0x20) config.rejected_keep = 0;
  if (flags & 0x40) config.endpoint_keys = endpoint_keys;
  if (flags & 0x80) config.communities = {"tidewater-ceramics", "c"};  // the fixtures' main community
  return config;
}

bool holds_a_secret(std::string_view text) {
  const auto in_text = [&](const std::string& secret) { return text.find(secret) != std::string_view::npos; };
  return std::any_of(verify_tokens.begin(), verify_tokens.end(), in_text) ||
         std::any_of(endpoint_keys.begin(), endpoint_keys.end(), in_text);
}

bool is_header_safe(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

json::value parse_or_die(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 128;  // an envelope wraps an event that may nest 64 deep
  json::value value = json::parse(text, ec, {}, options);
  FUZZ_CHECK(!ec);
  return value;
}

std::string_view string_member(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  FUZZ_CHECK(value != nullptr && value->is_string());
  return value->get_string();
}

// The error code of an error answer, after checking its shape: {"error":"<code>","detail":"<text>"}.
std::string error_code_of(const Response& response) {
  const json::value body = parse_or_die(response.body);
  FUZZ_CHECK(body.is_object() && body.get_object().size() == 2);
  const std::string code(string_member(body.get_object(), "error"));
  FUZZ_CHECK(!code.empty() && !string_member(body.get_object(), "detail").empty());
  return code;
}

void check_verification(const Request& request, const Config& config, const Decision& decision) {
  FUZZ_CHECK(!decision.store && !decision.reject && decision.refusal.empty());
  if (decision.response.status != 200) return;
  const QueryParam token = find_query_param(request.query, "verifyToken");
  const QueryParam challenge = find_query_param(request.query, "challenge");
  FUZZ_CHECK(!token.is_repeated() && !challenge.is_repeated());
  FUZZ_CHECK(std::find(config.verify_tokens.begin(), config.verify_tokens.end(), token.value) != config.verify_tokens.end());
  FUZZ_CHECK(decision.response.content_type.starts_with("text/plain"));
  FUZZ_CHECK(decision.response.body == challenge.value);
  FUZZ_CHECK(!challenge.value.empty() && challenge.value.size() <= max_challenge_bytes);
  FUZZ_CHECK(is_printable_utf8(challenge.value));  // echoed in the body only, never in a header
}

void check_stored(const Request& request, const Config& config, const Decision& decision) {
  FUZZ_CHECK(!decision.reject && decision.refusal.empty());
  FUZZ_CHECK(request.body_bytes == request.body.size() && request.body.size() <= config.max_body_bytes);
  if (!config.endpoint_keys.empty()) {
    const QueryParam key = find_query_param(request.query, "key");
    FUZZ_CHECK(!key.is_repeated());
    FUZZ_CHECK(std::find(config.endpoint_keys.begin(), config.endpoint_keys.end(), key.value) != config.endpoint_keys.end());
  }
  const std::size_t count = decision.store ? decision.store->envelopes.size() : 0;
  FUZZ_CHECK(decision.response.body == "{\"stored\":" + std::to_string(count) + "}");
  FUZZ_CHECK(count <= config.max_events);
  if (!decision.store) return;
  const StoreEvents& store = *decision.store;
  FUZZ_CHECK(count > 0);
  FUZZ_CHECK(store.queue_key == queue_key(config.queue_prefix, store.event_type));
  FUZZ_CHECK(store.event_types_key == event_types_key(config.queue_prefix));
  FUZZ_CHECK(store.counters_key == counters_key(config.queue_prefix));

  const std::string received_at = format_rfc3339_ms(request.received_at_ms);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& envelope = store.envelopes[i];
    const auto summary = parse_envelope(envelope);
    FUZZ_CHECK(summary.has_value());
    FUZZ_CHECK(summary->index == i && summary->count == count);
    FUZZ_CHECK(summary->event_type == store.event_type && summary->delivery == request.request_id);
    FUZZ_CHECK(summary->received_at == received_at);
    if (!config.communities.empty()) {
      FUZZ_CHECK(std::find(config.communities.begin(), config.communities.end(), summary->community) !=
                 config.communities.end());
    }
    // `event` is the item exactly as received: its bytes occur in the body, and the id is theirs.
    const auto members = top_level_members(envelope);
    FUZZ_CHECK(members.has_value());
    const auto event = std::find_if(members->begin(), members->end(), [](const JsonMember& m) { return m.key == "event"; });
    FUZZ_CHECK(event != members->end());
    FUZZ_CHECK(request.body.find(event->value) != std::string_view::npos);
    FUZZ_CHECK(summary->id == event_id(summary->event_type, summary->ticket_id, event->value));
  }
}

void check_refused_post(const Request& request, const Config& config, const Decision& decision, const std::string& code) {
  FUZZ_CHECK(!decision.store);
  FUZZ_CHECK(decision.refusal == code);
  FUZZ_CHECK(decision.reject.has_value() == (config.rejected_keep > 0));
  if (!decision.reject) return;
  FUZZ_CHECK(decision.reject->rejected_key == rejected_key(config.queue_prefix));
  FUZZ_CHECK(decision.reject->keep == config.rejected_keep);

  const json::value parsed = parse_or_die(decision.reject->record);
  FUZZ_CHECK(parsed.is_object());
  const json::object& record = parsed.get_object();
  FUZZ_CHECK(string_member(record, "reason") == code);
  FUZZ_CHECK(string_member(record, "request_id") == request.request_id);
  FUZZ_CHECK(record.contains("status") && record.at("status").is_int64() &&
             record.at("status").get_int64() == decision.response.status);
  FUZZ_CHECK(record.contains("body_bytes") && record.at("body_bytes").to_number<std::uint64_t>() == request.body_bytes);
  const std::string_view encoding = string_member(record, "body_encoding");
  const std::string_view text = string_member(record, "body");
  std::string kept;
  if (encoding == "utf-8") {
    kept = text;
  } else {
    FUZZ_CHECK(encoding == "base64");
    const auto decoded = base64_decode(text);
    FUZZ_CHECK(decoded.has_value());
    kept = *decoded;
  }
  FUZZ_CHECK(kept.size() <= max_kept_body_bytes);
  FUZZ_CHECK(request.body.starts_with(kept));
  FUZZ_CHECK(record.contains("body_truncated") && record.at("body_truncated").is_bool() &&
             record.at("body_truncated").get_bool() == (kept.size() < request.body_bytes));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return -1;  // not worth keeping: there are no flags
  const std::uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto next_line = [&rest]() {
    const std::size_t newline = rest.find('\n');
    const std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    return line;
  };

  Request request;
  request.method = (flags & 7) == 7 ? next_line() : fixed_methods[flags & 7];
  request.query = next_line();
  request.body = rest;
  request.body_bytes = rest.size() + ((flags & 0x08) ? 1 : 0);
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  const Config config = make_config(flags);

  const Decision decision = decide(request, config);
  const Response& response = decision.response;

  FUZZ_CHECK(response.content_type == "application/json" || response.content_type == "text/plain; charset=utf-8");
  const int status = response.status;
  FUZZ_CHECK(status == 200 || status == 400 || status == 403 || status == 405 || status == 413);
  for (const auto& [name, value] : response.headers) FUZZ_CHECK(is_header_safe(name) && is_header_safe(value));
  FUZZ_CHECK(!decision.log_message.empty());

  std::string code;
  if (status != 200) {
    FUZZ_CHECK(response.content_type == "application/json");
    code = error_code_of(response);
    FUZZ_CHECK(!holds_a_secret(response.body));
  }
  const bool is_get = request.method == "GET", is_post = request.method == "POST";
  // Only a stored POST logs text from the request (event type, community); nothing else may.
  if (!(is_post && status == 200)) FUZZ_CHECK(!holds_a_secret(decision.log_message));

  if (is_get) {
    check_verification(request, config, decision);
  } else if (is_post && status == 200) {
    check_stored(request, config, decision);
  } else if (is_post) {
    check_refused_post(request, config, decision, code);
  } else {
    FUZZ_CHECK(status == 405 && code == "method_not_allowed" && !decision.store && !decision.reject);
    FUZZ_CHECK(std::any_of(response.headers.begin(), response.headers.end(),
                           [](const auto& header) { return header.first == "Allow"; }));
  }
  return 0;
}
