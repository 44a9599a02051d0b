// rfc3339.hpp -- UTC timestamps as RFC 3339 text with milliseconds ("2026-11-27T11:14:20.123Z").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

// `unix_ms` is milliseconds since 1970-01-01T00:00:00Z (may be negative); times outside the
// years 0000-9999 are written as the nearest end of that range.
std::string format_rfc3339_ms(std::int64_t unix_ms);

// Reads back what format_rfc3339_ms writes ("YYYY-MM-DDTHH:MM:SS.mmmZ"); nullopt otherwise.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace boardhook::core
