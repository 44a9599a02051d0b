// notification.cpp -- envelope validation with Boost.JSON, item bytes located by json_spans.
#include "core/notification.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "core/json_spans.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

namespace json = boost::json;

namespace {

ParsedNotification refuse(std::string code, std::string detail) {
  return {std::nullopt, {std::move(code), std::move(detail)}};
}

ParsedNotification invalid_envelope(std::string detail) { return refuse("invalid_envelope", std::move(detail)); }

std::optional<std::string> integer_text(const json::value& value) {
  if (value.is_int64()) return std::to_string(value.get_int64());
  if (value.is_uint64()) return std::to_string(value.get_uint64());
  return std::nullopt;
}

bool is_safe_event_type(std::string_view event_type) {
  return !event_type.empty() && event_type.size() <= max_event_type_length &&
         std::all_of(event_type.begin(), event_type.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  c == '.';
         });
}

// Ticket.Id of an item, for envelopes without a top-level TicketId (older payloads).
std::optional<std::string> item_ticket_id(const json::object& item) {
  const json::value* ticket = item.if_contains("Ticket");
  if (ticket == nullptr || !ticket->is_object()) return std::nullopt;
  const json::value* id = ticket->get_object().if_contains("Id");
  return id == nullptr ? std::nullopt : integer_text(*id);
}

}  // namespace

bool is_documented_event_type(std::string_view event_type) {
  return event_type == "ticket_status_change" || event_type == "note_deletion";
}

ParsedNotification parse_notification(std::string_view body, std::size_t max_events) {
  if (body.empty()) return refuse("empty_body", "the request body is empty");
  if (!is_valid_utf8(body)) return refuse("invalid_encoding", "the body is not valid UTF-8");

  // A per-call arena: the whole document is freed at once when `arena` goes out of scope.
  unsigned char first_block[16384];
  json::monotonic_resource arena(first_block, sizeof first_block);
  json::parse_options options;
  options.max_depth = max_json_depth;
  json::parser parser(json::storage_ptr(), options);
  parser.reset(&arena);
  boost::system::error_code ec;
  const std::size_t consumed = parser.write(body.data(), body.size(), ec);
  if (ec == json::error::too_deep) {
    return refuse("invalid_json", "nested deeper than " + std::to_string(max_json_depth) + " levels");
  }
  if (ec) {
    return refuse("invalid_json", "not a JSON document (" + ec.message() + " near byte " + std::to_string(consumed) + ")");
  }
  const json::value document = parser.release();

  if (!document.is_object()) return invalid_envelope("the top level must be a JSON object");
  const json::object& envelope = document.get_object();

  // Duplicate keys would let two readers of the same body see different envelopes.
  const auto members = top_level_members(body);
  if (!members) return refuse("invalid_json", "could not locate the envelope's members");
  for (std::size_t i = 0; i < members->size(); ++i) {
    for (std::size_t k = i + 1; k < members->size(); ++k) {
      if ((*members)[i].key != (*members)[k].key) continue;
      // Only the envelope's own names are repeated back: other keys are the sender's text.
      const std::string& key = (*members)[i].key;
      const bool is_envelope_key = key == "CommunityName" || key == "EventType" || key == "TicketId" || key == "Events";
      return invalid_envelope(is_envelope_key ? key + " appears more than once" : "a top-level key appears more than once");
    }
  }

  Notification notification;
  const json::value* community = envelope.if_contains("CommunityName");
  if (community == nullptr) return invalid_envelope("CommunityName is missing");
  if (!community->is_string() || community->get_string().empty()) return invalid_envelope("CommunityName must be a non-empty string");
  notification.community = community->get_string();

  const json::value* event_type = envelope.if_contains("EventType");
  if (event_type == nullptr) return invalid_envelope("EventType is missing");
  if (!event_type->is_string() || event_type->get_string().empty()) return invalid_envelope("EventType must be a non-empty string");
  if (!is_safe_event_type(event_type->get_string())) {
    return invalid_envelope("EventType must be at most 100 characters of A-Z a-z 0-9 _ - .");
  }
  notification.event_type = event_type->get_string();

  std::optional<std::string> ticket_id;
  if (const json::value* value = envelope.if_contains("TicketId")) {
    ticket_id = integer_text(*value);
    if (!ticket_id) return invalid_envelope("TicketId must be an integer when present");
  }

  const json::value* events = envelope.if_contains("Events");
  if (events == nullptr) return invalid_envelope("Events is missing");
  if (!events->is_array()) return invalid_envelope("Events must be an array");
  const json::array& items = events->get_array();
  if (items.size() > max_events) {
    return refuse("too_many_events", "Events holds " + std::to_string(items.size()) + " items; at most " +
                                         std::to_string(max_events) + " are accepted");
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) return invalid_envelope("Events[" + std::to_string(i) + "] must be an object");
  }

  const auto events_member = std::find_if(members->begin(), members->end(), [](const JsonMember& m) { return m.key == "Events"; });
  const auto raw_items = array_items(events_member->value);
  if (!raw_items || raw_items->size() != items.size()) return refuse("invalid_json", "could not locate the bytes of Events");

  notification.events.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    notification.events.push_back({(*raw_items)[i], ticket_id ? ticket_id : item_ticket_id(items[i].get_object())});
  }
  return {std::move(notification), {}};
}

}  // namespace boardhook::core
