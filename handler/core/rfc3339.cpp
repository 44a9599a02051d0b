// rfc3339.cpp -- UTC timestamp formatting from a millisecond count; no time zone database needed.
#include "core/rfc3339.hpp"

#include <algorithm>

namespace boardhook::core {

namespace {

struct CivilDate { std::int64_t year; unsigned month, day; };

// Days since 1970-01-01 to a proleptic Gregorian date (the classic era-based conversion:
// 400-year eras of 146097 days make the arithmetic exact for every day count).
CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;  // March = 0
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of civil_from_days).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Writes the last `width` decimal digits of `value` at text[at], zero-padded.
void put_digits(std::string& text, std::size_t at, std::size_t width, unsigned value) {
  for (std::size_t k = at + width; k > at; value /= 10) text[--k] = static_cast<char>('0' + value % 10);
}

}  // namespace

std::string format_rfc3339_ms(std::int64_t unix_ms) {
  // RFC 3339 writes years 0000-9999; outside them (never from a real clock) the arithmetic
  // below would overflow, so such times are pinned to the nearest end.
  constexpr std::int64_t first_ms = -62167219200000, last_ms = 253402300799999;
  unix_ms = std::clamp(unix_ms, first_ms, last_ms);
  const std::int64_t days = floor_div(unix_ms, 86'400'000);
  const std::int64_t ms_of_day = unix_ms - days * 86'400'000;
  const CivilDate date = civil_from_days(days);
  const auto seconds_of_day = static_cast<unsigned>(ms_of_day / 1000);
  // Every field has a fixed width within the years 0000-9999, so the digits are written into
  // place; snprintf cost more than the rest of the function together.
  std::string text = "0000-00-00T00:00:00.000Z";
  put_digits(text, 0, 4, static_cast<unsigned>(date.year));
  put_digits(text, 5, 2, date.month);
  put_digits(text, 8, 2, date.day);
  put_digits(text, 11, 2, seconds_of_day / 3600);
  put_digits(text, 14, 2, seconds_of_day / 60 % 60);
  put_digits(text, 17, 2, seconds_of_day % 60);
  put_digits(text, 20, 3, static_cast<unsigned>(ms_of_day % 1000));
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
  if (!year || !month || !day || !hour || !minute || !second || !millis || *month < 1 || *month > 12 || *day < 1 ||
      *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  const bool is_leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  constexpr unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*day > month_days[*month - 1] + (*month == 2 && is_leap ? 1 : 0)) return std::nullopt;
  const std::int64_t days = days_from_civil(*year, *month, *day);
  return ((days * 24 + *hour) * 60 + *minute) * 60'000 + static_cast<std::int64_t>(*second) * 1000 + *millis;
}

}  // namespace boardhook::core
