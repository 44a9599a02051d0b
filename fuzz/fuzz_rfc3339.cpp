// fuzz_rfc3339.cpp -- libFuzzer target: RFC 3339 timestamps (format_rfc3339_ms, parse_rfc3339_ms).
//
// Input: any bytes. The first 8 (little-endian) are a millisecond count to format; the whole input
// is also parsed as text. Checks, besides UB on any int64: a formatted time of years 0-9999 parses
// back to the same count, and a parsed text formats back to exactly itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"
#include "core/rfc3339.hpp"

using namespace boardhook::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (const auto parsed = parse_rfc3339_ms(input)) FUZZ_CHECK(format_rfc3339_ms(*parsed) == input);

  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < 8 && i < size; ++i) bits |= static_cast<std::uint64_t>(data[i]) << (8 * i);
  const auto unix_ms = static_cast<std::int64_t>(bits);
  const std::string text = format_rfc3339_ms(unix_ms);
  FUZZ_CHECK(!text.empty() && text.back() == 'Z');
  // 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z: the years RFC 3339 can write.
  constexpr std::int64_t first_ms = -62167219200000, last_ms = 253402300799999;
  if (unix_ms >= first_ms && unix_ms <= last_ms) {
    FUZZ_CHECK(text.size() == 24);
    const auto back = parse_rfc3339_ms(text);
    FUZZ_CHECK(back.has_value() && *back == unix_ms);
  }
  return 0;
}
