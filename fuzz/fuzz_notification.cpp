// fuzz_notification.cpp -- libFuzzer target: parse_notification on any body.
//
// Input: the POST body, as is (the fixtures are its seeds). Checks, besides memory safety:
// every body is either accepted or refused with a code and a detail that quotes nothing of it;
// an accepted body is a JSON object whose Events items are found byte for byte, in order,
// equal (as JSON values) to what an independent Boost.JSON parse of the whole body holds, each
// with the ticket id that parse gives it.
#include <algorithm>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "check.hpp"
#include "json_equal.hpp"
#include "core/event_type.hpp"
#include "core/notification.hpp"

using namespace boardhook::core;
using boardhook::fuzz::same_json;
namespace json = boost::json;

namespace {

bool is_code(std::string_view code) {
  return !code.empty() && std::all_of(code.begin(), code.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

bool is_printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

bool is_integer_text(std::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_within(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

json::value parse_or_die(std::string_view text) {
  json::parse_options options;
  options.max_depth = max_json_depth;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  FUZZ_CHECK(!ec);
  return value;
}

std::optional<std::string> integer_text(const json::value* value) {
  if (value != nullptr && value->is_int64()) return std::to_string(value->get_int64());
  if (value != nullptr && value->is_uint64()) return std::to_string(value->get_uint64());
  return std::nullopt;
}

// The ticket id notification.hpp promises an item, read from the independent parse: the
// envelope's TicketId, else the item's Ticket.Id (of repeated keys the last, as Boost.JSON keeps).
std::optional<std::string> expected_ticket_id(const json::object& envelope, const json::object& item) {
  if (envelope.contains("TicketId")) return integer_text(envelope.if_contains("TicketId"));
  const json::value* ticket = item.if_contains("Ticket");
  if (ticket == nullptr || !ticket->is_object()) return std::nullopt;
  return integer_text(ticket->get_object().if_contains("Id"));
}

void check(std::string_view body, std::size_t max_events) {
  const ParsedNotification parsed = parse_notification(body, max_events);
  if (!parsed.notification) {
    FUZZ_CHECK(is_code(parsed.problem.code));
    FUZZ_CHECK(!parsed.problem.detail.empty() && is_printable_ascii(parsed.problem.detail));
    return;
  }
  FUZZ_CHECK(parsed.problem.code.empty());
  const Notification& notification = *parsed.notification;
  FUZZ_CHECK(!notification.community.empty());
  FUZZ_CHECK(is_event_type(notification.event_type));
  FUZZ_CHECK(notification.events.size() <= max_events);

  // An independent parse of the whole body must agree with what the parser kept.
  const json::value document = parse_or_die(body);
  FUZZ_CHECK(document.is_object());
  const json::object& envelope = document.get_object();
  FUZZ_CHECK(envelope.contains("CommunityName") && envelope.at("CommunityName") == notification.community.c_str());
  FUZZ_CHECK(envelope.contains("EventType") && envelope.at("EventType") == notification.event_type.c_str());
  FUZZ_CHECK(envelope.contains("Events") && envelope.at("Events").is_array());
  const json::array& items = envelope.at("Events").get_array();
  FUZZ_CHECK(items.size() == notification.events.size());

  const char* previous_end = body.data();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const NotificationItem& item = notification.events[i];
    FUZZ_CHECK(is_within(item.raw, body));
    FUZZ_CHECK(item.raw.data() >= previous_end);  // in order, never overlapping
    previous_end = item.raw.data() + item.raw.size();
    FUZZ_CHECK(same_json(parse_or_die(item.raw), items[i]));
    FUZZ_CHECK(items[i].is_object());
    if (item.ticket_id) FUZZ_CHECK(is_integer_text(*item.ticket_id));
    FUZZ_CHECK(item.ticket_id == expected_ticket_id(envelope, items[i].get_object()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check(body, 1000);
  check(body, 1);  // the too_many_events guard, on the same input
  return 0;
}
