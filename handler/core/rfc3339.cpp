// rfc3339.cpp -- UTC timestamp formatting from a millisecond count; no time zone database needed.
#include "core/rfc3339.hpp"

#include <cstdio>

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

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::string format_rfc3339_ms(std::int64_t unix_ms) {
  const std::int64_t days = floor_div(unix_ms, 86'400'000);
  const std::int64_t ms_of_day = unix_ms - days * 86'400'000;
  const CivilDate date = civil_from_days(days);
  const auto seconds_of_day = ms_of_day / 1000;
  char text[40];
  std::snprintf(text, sizeof text, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(date.year), date.month, date.day,
                static_cast<long long>(seconds_of_day / 3600), static_cast<long long>(seconds_of_day / 60 % 60),
                static_cast<long long>(seconds_of_day % 60), static_cast<long long>(ms_of_day % 1000));
  return text;
}

}  // namespace boardhook::core
