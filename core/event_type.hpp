// event_type.hpp -- what an EventType may be, and how it becomes part of a Redis key: the one place.
//
// The protocol asks only for a non-empty string, and Socialboards keeps no copy of what it sends,
// so any UTF-8 text up to max_event_type_bytes is accepted. In key names (and counter fields) a
// type is written with the bytes A-Z a-z 0-9 _ - . as they are and every other byte as %XX, so
// the names of the documented types are unchanged and no two types share a key.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

inline constexpr std::size_t max_event_type_bytes = 200;

// True for 1-max_event_type_bytes bytes of valid UTF-8.
bool is_event_type(std::string_view text);

// The type as it appears in key names: "ticket_status_change" stays, "Ticket créé" becomes
// "Ticket%20cr%C3%A9%C3%A9". Different types always give different key parts.
std::string event_type_key_part(std::string_view event_type);

// An event type as an operator writes it on a command line or in a worker's config file: the
// type itself, or its key part (percent-encoded), which is the only way to write one holding
// '=', '%' or blanks. Returns nullopt with `error` set when the escapes are broken or the result
// is not an event type.
std::optional<std::string> parse_event_type_argument(std::string_view text, std::string& error);

// The type for a log line: as it is when it is all key-safe bytes, else as a quoted JSON string
// (control characters escaped), so no type can forge a line.
std::string printable_event_type(std::string_view event_type);

}  // namespace boardhook::core
