// rejected_record.cpp -- rejected records: written with the JSON escaper, read with Boost.JSON.
#include "core/rejected_record.hpp"

#include <array>
#include <algorithm>
#include <boost/json.hpp>

#include "core/encoding.hpp"
#include "core/json_escape.hpp"
#include "core/rfc3339.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

namespace {

namespace json = boost::json;

constexpr std::string_view utf8_encoding = "utf-8";
constexpr std::string_view base64_encoding = "base64";

const json::string* string_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? &value->get_string() : nullptr;
}

}  // namespace

std::string make_rejected_record(std::int64_t at_ms, std::string_view request_id, int status, std::string_view reason,
                                 std::string_view detail, std::size_t body_bytes, std::string_view body) {
  // Keep the body as text when it is UTF-8 (cut back to a character boundary), else base64.
  const std::string_view text = body.substr(0, utf8_prefix_length(body, max_kept_body_bytes));
  const bool keep_as_text = is_valid_utf8(text);
  const std::string_view stored = keep_as_text ? text : body.substr(0, max_kept_body_bytes);

  std::string record = "{\"at\":";
  append_json_string(record, format_rfc3339_ms(at_ms));
  record += ",\"request_id\":";
  append_json_string(record, request_id);
  record += ",\"status\":" + std::to_string(status) + ",\"reason\":";
  append_json_string(record, reason);
  record += ",\"detail\":";
  append_json_string(record, detail);
  record += ",\"body_bytes\":" + std::to_string(body_bytes);
  record += ",\"body_encoding\":";
  append_json_string(record, keep_as_text ? utf8_encoding : base64_encoding);
  record += stored.size() < body_bytes ? ",\"body_truncated\":true" : ",\"body_truncated\":false";
  record += ",\"body\":";
  append_json_string(record, keep_as_text ? std::string(stored) : base64_encode(stored));
  record += '}';
  return record;
}

std::optional<RejectedRecord> parse_rejected_record(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const json::object& o = value.get_object();
  const json::string* at = string_member(o, "at");
  const json::string* request_id = string_member(o, "request_id");
  const json::string* reason = string_member(o, "reason");
  const json::string* detail = string_member(o, "detail");
  const json::string* encoding = string_member(o, "body_encoding");
  const json::string* body = string_member(o, "body");
  const json::value* status = o.if_contains("status");
  const json::value* body_bytes = o.if_contains("body_bytes");
  const json::value* truncated = o.if_contains("body_truncated");
  if (!at || !request_id || !reason || !detail || !encoding || !body || !status || !status->is_int64() || !body_bytes ||
      !(body_bytes->is_int64() || body_bytes->is_uint64()) || !truncated || !truncated->is_bool()) {
    return std::nullopt;
  }
  RejectedRecord record;
  record.at = *at;
  record.request_id = *request_id;
  record.status = static_cast<int>(status->get_int64());
  record.reason = *reason;
  record.detail = *detail;
  record.body_bytes = body_bytes->is_uint64() ? body_bytes->get_uint64() : static_cast<std::size_t>(std::max<std::int64_t>(0, body_bytes->get_int64()));
  record.body_truncated = truncated->get_bool();
  if (*encoding == utf8_encoding) {
    record.body = *body;
  } else if (*encoding == base64_encoding) {
    auto decoded = base64_decode(*body);
    if (!decoded) return std::nullopt;
    record.body = std::move(*decoded);
  } else {
    return std::nullopt;
  }
  return record;
}

bool is_authentication_refusal(std::string_view reason) {
  // duplicate_parameter: for a POST only the endpoint key can be given twice.
  constexpr std::array<std::string_view, 4> reasons = {"missing_endpoint_key", "invalid_endpoint_key",
                                                       "community_not_allowed", "duplicate_parameter"};
  return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
}

}  // namespace boardhook::core
