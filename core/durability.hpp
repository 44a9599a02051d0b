// durability.hpp -- whether a Redis setup can keep boardhook's promise (an event answered 200 is
// not lost), judged from facts gathered elsewhere: `boardhook-queues doctor`'s rules.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

struct SentinelView {
  std::string address;                 // host:port of the Sentinel
  bool reachable = false;
  std::string primary;                 // host:port it names, when reachable
  std::optional<bool> quorum_ok;       // SENTINEL CKQUORUM
  std::string quorum_detail;
};

struct ReplicaView {
  std::string address;
  std::string state;                   // "online", "wait_bgsave", ...
  std::int64_t lag_seconds = 0;
};

// What doctor found. A field the server would not tell (CONFIG disabled, say) stays unset.
struct DurabilityFacts {
  std::string redis_version;                         // "7.0.15"
  std::optional<std::string> maxmemory_policy;
  std::optional<bool> appendonly;
  std::optional<std::string> appendfsync;            // "always", "everysec", "no"
  std::string role;                                  // "master" / "slave"
  std::vector<ReplicaView> replicas;
  std::optional<std::int64_t> min_replicas_to_write;
  std::optional<std::int64_t> min_replicas_max_lag;
  bool uses_sentinel = false;
  std::vector<SentinelView> sentinels;
  int handler_min_replicas = 0;                      // BOARDHOOK_REDIS_MIN_REPLICAS
  int dedup_seconds = 0;                             // BOARDHOOK_DEDUP_SECONDS
  std::string spool_dir;                             // "" when not set
  std::optional<bool> spool_writable;
  std::size_t spool_records = 0;
};

enum class Severity { ok, warn, fail };  // fail: an acknowledged event can be lost

struct Finding {
  std::string check;
  Severity severity = Severity::ok;
  std::string detail;
};

std::vector<Finding> assess_durability(const DurabilityFacts& facts);

// True when no finding fails.
bool keeps_the_promise(const std::vector<Finding>& findings);

std::string_view severity_name(Severity severity);  // "ok", "warn", "FAIL"

}  // namespace boardhook::core
