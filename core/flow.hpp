// flow.hpp -- flow control shared by every worker on every host: a rate limit and a limit on jobs
// in flight per event type, each one atomic Lua script over Redis's clock, so ten workers
// together still respect them.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

// "50/s", "600/m", "2.5/s": events per second; nullopt with `error` when malformed.
std::optional<double> parse_rate(std::string_view text, std::string& error);

// GCRA. KEYS[1]: rate_key. ARGV: the interval between events (ms, may be fractional), the burst
// (events allowed at once). Returns 0 when an event may be taken now (and counts it), else the
// milliseconds to wait.
extern const std::string_view rate_script;

// The burst a rate allows: a tenth of a second's worth, at least 1 (so a limit of 50/s holds
// within a few percent over any second).
double rate_burst(double per_second);
inline double rate_interval_ms(double per_second) { return 1000.0 / per_second; }

// KEYS[1]: in_flight_key. ARGV: consumer id, the limit, the slot's lease (ms: how long a
// worker that died holds it). Returns 1 when the consumer holds a slot (now or already), 0 when
// all are taken. A slot is given back with ZREM, or expires with its lease.
extern const std::string_view in_flight_script;

}  // namespace boardhook::core
