// event_type.cpp -- the EventType rule and its key encoding.
#include "core/event_type.hpp"

#include <algorithm>
#include <boost/url/pct_string_view.hpp>

#include "core/json_escape.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

namespace {

// The bytes that were the whole of an allowed EventType before any UTF-8 was accepted.
bool is_key_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}


}  // namespace

bool is_event_type(std::string_view text) {
  return !text.empty() && text.size() <= max_event_type_bytes && is_valid_utf8(text);
}

std::string event_type_key_part(std::string_view event_type) {
  if (std::all_of(event_type.begin(), event_type.end(), is_key_safe)) return std::string(event_type);
  constexpr char digits[] = "0123456789ABCDEF";
  std::string part;
  part.reserve(event_type.size() * 3);
  for (const char c : event_type) {
    if (is_key_safe(c)) {
      part += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      part += '%';
      part += digits[byte >> 4];
      part += digits[byte & 0xF];
    }
  }
  return part;
}

std::optional<std::string> parse_event_type_argument(std::string_view text, std::string& error) {
  const auto escaped = boost::urls::make_pct_string_view(text);
  if (!escaped) {
    error.assign("\"").append(text).append("\": '%' must start a %XX escape (write a '%' of the type as %25)");
    return std::nullopt;
  }
  std::string type = escaped->decode();
  if (!is_event_type(type)) {
    error.assign("\"").append(text).append("\" is not an event type (1-").append(std::to_string(max_event_type_bytes));
    error.append(" bytes of UTF-8, written as it is or with %XX escapes)");
    return std::nullopt;
  }
  return type;
}

std::string printable_event_type(std::string_view event_type) {
  if (!event_type.empty() && std::all_of(event_type.begin(), event_type.end(), is_key_safe)) return std::string(event_type);
  return json_string(is_valid_utf8(event_type) ? event_type : std::string_view("(not UTF-8)"));
}

}  // namespace boardhook::core
