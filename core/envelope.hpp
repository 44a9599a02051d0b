// envelope.hpp -- the message envelope every queued event travels in: the one definition.
//
// {"id","delivery","received_at","community","event_type","ticket_id","index","count","event"}
// `event` is the item's bytes exactly as received; `id` is content-derived, so the same
// event delivered twice gets the same id and consumers can deduplicate on it.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

struct EnvelopeFields {
  std::string_view delivery;              // the request id of the POST that carried it
  std::string_view received_at;           // RFC 3339 UTC with milliseconds
  std::string_view community;
  std::string_view event_type;
  std::optional<std::string> ticket_id;   // decimal integer, or none (JSON null)
  std::size_t index = 0;                  // position in Events
  std::size_t count = 0;                  // size of Events
  std::string_view event;                 // raw item bytes (valid JSON)
};

// hex SHA-256 of: decimal length of event_type, ':', event_type, '|', ticket id or "null", '|', item bytes.
// The length prefix keeps the encoding unambiguous whatever the event type holds.
std::string event_id(std::string_view event_type, const std::optional<std::string>& ticket_id, std::string_view event);

// The envelope as a JSON text, with `id` computed from the fields.
std::string make_envelope(const EnvelopeFields& fields);

// The `id` of an envelope made by make_envelope, read from where make_envelope puts it (the first
// member, 64 hex digits), without parsing the rest; nullopt for any other text.
std::optional<std::string_view> envelope_id(std::string_view envelope);

// What workers and tools read from an envelope without touching `event`.
struct EnvelopeSummary {
  std::string id;
  std::string delivery;
  std::string received_at;
  std::string community;
  std::string event_type;
  std::optional<std::string> ticket_id;  // decimal
  std::size_t index = 0;
  std::size_t count = 0;
};

// Reads an envelope's fields; nullopt when `text` is not an envelope made by make_envelope.
std::optional<EnvelopeSummary> parse_envelope(std::string_view text);

}  // namespace boardhook::core
