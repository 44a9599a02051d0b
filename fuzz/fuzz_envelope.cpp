// fuzz_envelope.cpp -- libFuzzer target: envelopes (make_envelope, parse_envelope) and json_spans.
//
// Input: any bytes. Checks, besides memory safety:
// - json_spans agrees with Boost.JSON: for a JSON object, top_level_members finds every member,
//   keys decoded alike, each value's bytes parsing to the same value; for an array, array_items
//   finds every item the same way. On anything else its spans stay inside the input.
// - make_envelope round-trips: with the input as `event` (when it is JSON) and as community and
//   event type (when it is UTF-8), parse_envelope reads back every field, the `event` member holds
//   the input's bytes, and the id is event_id() of them.
#include <algorithm>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "check.hpp"
#include "json_equal.hpp"
#include "core/envelope.hpp"
#include "core/json_spans.hpp"
#include "core/utf8.hpp"

using namespace boardhook::core;
using boardhook::fuzz::same_json;
namespace json = boost::json;

namespace {

std::optional<json::value> parse(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 4096;  // json_spans has no depth limit of its own; compare far beyond 64
  json::value value = json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return value;
}

bool is_within(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

void check_spans(std::string_view input, const std::optional<json::value>& document) {
  const auto members = top_level_members(input);
  if (members) {
    for (const JsonMember& member : *members) FUZZ_CHECK(is_within(member.value, input));
  }
  const auto items = array_items(input);
  if (items) {
    for (const std::string_view item : *items) FUZZ_CHECK(is_within(item, input));
  }
  if (!document) return;

  if (document->is_object()) {
    const json::object& object = document->get_object();
    FUZZ_CHECK(members.has_value());
    FUZZ_CHECK(members->size() >= object.size());
    const bool has_duplicates = members->size() != object.size();
    for (const JsonMember& member : *members) {
      const auto value = parse(member.value);
      FUZZ_CHECK(value.has_value());
      FUZZ_CHECK(object.contains(member.key));
      if (!has_duplicates) FUZZ_CHECK(same_json(*value, object.at(member.key)));
    }
  }
  if (document->is_array()) {
    const json::array& array = document->get_array();
    FUZZ_CHECK(items.has_value() && items->size() == array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
      const auto value = parse((*items)[i]);
      FUZZ_CHECK(value.has_value() && same_json(*value, array[i]));
    }
  }
}

void check_envelope_round_trip(std::string_view input, bool is_json) {
  const bool is_text = is_valid_utf8(input);
  EnvelopeFields fields;
  fields.delivery = "0123456789abcdef0123456789abcdef";
  fields.received_at = "2025-11-27T11:14:20.123Z";
  fields.community = is_text ? input : "c";
  fields.event_type = is_text && !input.empty() ? input : "ticket_status_change";
  if (input.size() % 2 == 1) fields.ticket_id = std::to_string(input.size());
  fields.index = input.size();
  fields.count = input.size() + 1;
  fields.event = is_json ? input : std::string_view("{}");

  const std::string envelope = make_envelope(fields);
  const auto summary = parse_envelope(envelope);
  FUZZ_CHECK(summary.has_value());
  FUZZ_CHECK(summary->delivery == fields.delivery && summary->received_at == fields.received_at);
  FUZZ_CHECK(summary->community == fields.community && summary->event_type == fields.event_type);
  FUZZ_CHECK(summary->ticket_id == fields.ticket_id);
  FUZZ_CHECK(summary->index == fields.index && summary->count == fields.count);
  FUZZ_CHECK(summary->id == event_id(fields.event_type, fields.ticket_id, fields.event));

  const auto members = top_level_members(envelope);
  FUZZ_CHECK(members.has_value());
  const auto event = std::find_if(members->begin(), members->end(), [](const JsonMember& m) { return m.key == "event"; });
  FUZZ_CHECK(event != members->end() && event->value == trim(fields.event));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto document = parse(input);
  check_spans(input, document);
  check_envelope_round_trip(input, document.has_value());
  if (const auto summary = parse_envelope(input)) FUZZ_CHECK(!summary->event_type.empty());
  return 0;
}
