// flow.cpp -- the rate and in-flight scripts.
#include "core/flow.hpp"

#include <algorithm>
#include <charconv>

namespace boardhook::core {

const std::string_view rate_script = R"lua(#!lua
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
local next_due = math.max(due, now) + interval
local wait = next_due - now - burst * interval
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], string.format('%.3f', next_due), 'PX', math.ceil(burst * interval) + 1000)
return 0
)lua";

const std::string_view in_flight_script = R"lua(#!lua
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
)lua";

std::optional<double> parse_rate(std::string_view text, std::string& error) {
  const std::size_t slash = text.find('/');
  double count = 0;
  const std::string_view number = text.substr(0, slash);
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), count);
  const std::string_view unit = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
  const double seconds = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (number.empty() || ec != std::errc{} || end != number.data() + number.size() || count <= 0 || seconds == 0) {
    error = "\"" + std::string(text) + "\" is not a rate (50/s, 600/m, 1000/h)";
    return std::nullopt;
  }
  return count / seconds;
}

double rate_burst(double per_second) { return std::max(1.0, per_second / 10.0); }

}  // namespace boardhook::core
