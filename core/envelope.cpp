// envelope.cpp -- builds envelope JSON by hand so that `event` keeps the sender's exact bytes.
#include "core/envelope.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "core/digest.hpp"
#include "core/json_escape.hpp"

namespace boardhook::core {

std::string event_id(std::string_view event_type, const std::optional<std::string>& ticket_id, std::string_view event) {
  Sha256 hash;
  hash.update(std::to_string(event_type.size()));
  hash.update(":");
  hash.update(event_type);
  hash.update("|");
  hash.update(ticket_id ? std::string_view(*ticket_id) : std::string_view("null"));
  hash.update("|");
  hash.update(event);
  return hash.hex_digest();
}

std::string make_envelope(const EnvelopeFields& fields) {
  std::string out;
  out.reserve(fields.event.size() + fields.community.size() + fields.event_type.size() + 256);
  out += "{\"id\":\"";
  out += event_id(fields.event_type, fields.ticket_id, fields.event);
  out += "\",\"delivery\":";
  append_json_string(out, fields.delivery);
  out += ",\"received_at\":";
  append_json_string(out, fields.received_at);
  out += ",\"community\":";
  append_json_string(out, fields.community);
  out += ",\"event_type\":";
  append_json_string(out, fields.event_type);
  out += ",\"ticket_id\":";
  out += fields.ticket_id ? *fields.ticket_id : std::string("null");
  out += ",\"index\":";
  out += std::to_string(fields.index);
  out += ",\"count\":";
  out += std::to_string(fields.count);
  out += ",\"event\":";
  out += fields.event;
  out += '}';
  return out;
}

std::optional<std::string_view> envelope_id(std::string_view envelope) {
  constexpr std::string_view head = "{\"id\":\"";
  constexpr std::size_t digits = 64;
  if (!envelope.starts_with(head) || envelope.size() < head.size() + digits + 1 || envelope[head.size() + digits] != '"') {
    return std::nullopt;
  }
  const std::string_view id = envelope.substr(head.size(), digits);
  const bool is_hex = std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  return is_hex ? std::optional(id) : std::nullopt;
}

std::optional<EnvelopeSummary> parse_envelope(std::string_view text) {
  namespace json = boost::json;
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const json::object& object = value.get_object();
  const auto string_field = [&](std::string_view name) -> std::optional<std::string> {
    const json::value* field = object.if_contains(name);
    if (field == nullptr || !field->is_string()) return std::nullopt;
    return std::string(field->get_string());
  };
  const auto count_field = [&](std::string_view name) -> std::optional<std::size_t> {
    const json::value* field = object.if_contains(name);
    if (field == nullptr) return std::nullopt;
    if (field->is_int64() && field->get_int64() >= 0) return static_cast<std::size_t>(field->get_int64());
    if (field->is_uint64()) return static_cast<std::size_t>(field->get_uint64());
    return std::nullopt;
  };
  EnvelopeSummary summary;
  const auto id = string_field("id");
  const auto event_type = string_field("event_type");
  const auto index = count_field("index");
  const auto count = count_field("count");
  if (!id || !event_type || event_type->empty() || !index || !count || object.if_contains("event") == nullptr) {
    return std::nullopt;
  }
  summary.id = *id;
  summary.event_type = *event_type;
  summary.index = *index;
  summary.count = *count;
  summary.delivery = string_field("delivery").value_or("");
  summary.received_at = string_field("received_at").value_or("");
  summary.community = string_field("community").value_or("");
  if (const json::value* ticket = object.if_contains("ticket_id")) {
    if (ticket->is_int64()) summary.ticket_id = std::to_string(ticket->get_int64());
    if (ticket->is_uint64()) summary.ticket_id = std::to_string(ticket->get_uint64());
  }
  return summary;
}

}  // namespace boardhook::core
