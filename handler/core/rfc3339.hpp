// rfc3339.hpp -- UTC timestamps as RFC 3339 text with milliseconds ("2026-11-27T11:14:20.123Z").
#pragma once
#include <cstdint>
#include <string>

namespace boardhook::core {

// `unix_ms` is milliseconds since 1970-01-01T00:00:00Z (may be negative).
std::string format_rfc3339_ms(std::int64_t unix_ms);

}  // namespace boardhook::core
