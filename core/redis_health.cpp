// redis_health.cpp -- INFO parsing and the rules for a Redis that may hold boardhook's queues.
#include "core/redis_health.hpp"

namespace boardhook::core {

std::string info_field(std::string_view info, std::string_view field) {
  std::size_t at = 0;
  while (at < info.size()) {
    const std::size_t end = std::min(info.find('\n', at), info.size());
    std::string_view line = info.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > field.size() && line.starts_with(field) && line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
    at = end + 1;
  }
  return {};
}

RedisHealth assess_redis(std::string_view info) {
  RedisHealth health;
  const std::string policy = info_field(info, "maxmemory_policy");
  if (policy.empty()) {
    health.may_queue = false;
    health.refusal = "INFO did not report maxmemory_policy; cannot tell whether Redis may evict queued events";
  } else if (policy != "noeviction") {
    health.may_queue = false;
    health.refusal = "maxmemory-policy is \"" + policy + "\", not \"noeviction\": Redis may evict queued events";
  }
  if (info_field(info, "aof_enabled") == "0") {
    health.warnings.push_back("appendonly is off: a Redis crash loses every event written since its last snapshot");
  }
  return health;
}

}  // namespace boardhook::core
