// rfc3339.cpp -- UTC timestamps from a millisecond count with std::chrono's civil calendar; no time zone database needed.
#include "core/rfc3339.hpp"

#include <algorithm>
#include <chrono>

namespace boardhook::core {

namespace {

using std::chrono::sys_days;
using std::chrono::year_month_day;
using UnixTime = std::chrono::sys_time<std::chrono::milliseconds>;

// Writes the last `width` decimal digits of `value` at text[at], zero-padded.
void put_digits(std::string& text, std::size_t at, std::size_t width, unsigned value) {
  for (std::size_t k = at + width; k > at; value /= 10) text[--k] = static_cast<char>('0' + value % 10);
}

}  // namespace

std::string format_rfc3339_ms(std::int64_t unix_ms) {
  // RFC 3339 writes years 0000-9999; times outside them (never from a real clock) are pinned to
  // the nearest end, which also keeps every field below within its fixed width.
  constexpr std::int64_t first_ms = -62167219200000, last_ms = 253402300799999;
  const UnixTime time{std::chrono::milliseconds{std::clamp(unix_ms, first_ms, last_ms)}};
  const sys_days day = std::chrono::floor<std::chrono::days>(time);
  const year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  // The digits are written into place: snprintf cost more than the rest of the function together.
  std::string text = "0000-00-00T00:00:00.000Z";
  put_digits(text, 0, 4, static_cast<unsigned>(static_cast<int>(date.year())));
  put_digits(text, 5, 2, static_cast<unsigned>(date.month()));
  put_digits(text, 8, 2, static_cast<unsigned>(date.day()));
  put_digits(text, 11, 2, static_cast<unsigned>(clock.hours().count()));
  put_digits(text, 14, 2, static_cast<unsigned>(clock.minutes().count()));
  put_digits(text, 17, 2, static_cast<unsigned>(clock.seconds().count()));
  put_digits(text, 20, 3, static_cast<unsigned>(clock.subseconds().count()));
  return text;
}

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) {
  // Positions of the digits in "YYYY-MM-DDTHH:MM:SS.mmmZ".
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != '.' || text[23] != 'Z') {
    return std::nullopt;
  }
  const auto number = [&](std::size_t at, std::size_t width) -> std::optional<unsigned> {
    unsigned value = 0;
    for (std::size_t i = at; i < at + width; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return value;
  };
  const auto year = number(0, 4), month = number(5, 2), day = number(8, 2), hour = number(11, 2), minute = number(14, 2),
             second = number(17, 2), millis = number(20, 3);
  if (!year || !month || !day || !hour || !minute || !second || !millis || *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  // ok() refuses a month outside 1-12 and a day the month does not have (February 29 of 2023).
  const year_month_day date{std::chrono::year{static_cast<int>(*year)}, std::chrono::month{*month}, std::chrono::day{*day}};
  if (!date.ok()) return std::nullopt;
  const UnixTime time = sys_days{date} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
                        std::chrono::seconds{*second} + std::chrono::milliseconds{*millis};
  return time.time_since_epoch().count();
}

}  // namespace boardhook::core
