// redis_health.hpp -- judge whether a Redis server will keep what it is given (from INFO text).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

struct RedisHealth {
  bool may_queue = true;              // false: events must not be queued there
  std::string refusal;                // why not, for the log
  std::vector<std::string> warnings;  // risks worth a loud log line
};

// `info` is the text of INFO memory and INFO persistence (either order, concatenated).
// An eviction policy other than noeviction refuses the server: it may drop queued events
// under memory pressure. AOF off is a warning: a crash loses writes since the last snapshot.
RedisHealth assess_redis(std::string_view info);

// The value of `field` in INFO text ("field:value" lines), or "" when absent.
std::string info_field(std::string_view info, std::string_view field);

}  // namespace boardhook::core
