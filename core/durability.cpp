// durability.cpp -- doctor's rules: each fact, and what it means for an event answered 200.
#include "core/durability.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace boardhook::core {

namespace {

// "7.0.15" -> 70015, for comparing versions.
int version_number(const std::string& version) {
  int major = 0, minor = 0, patch = 0;
  std::sscanf(version.c_str(), "%d.%d.%d", &major, &minor, &patch);
  return major * 10000 + minor * 100 + patch;
}

void version(const DurabilityFacts& f, std::vector<Finding>& out) {
  // LMOVE/BLMOVE need 6.2; the ingest script's #!lua line (refused whole, before it runs) 7.0.
  if (version_number(f.redis_version) < 70000) {
    out.push_back({"redis version", Severity::fail,
                   "Redis " + f.redis_version + ": boardhook needs 7.0 or later (its ingest script is refused whole or not at all only there)"});
  } else {
    out.push_back({"redis version", Severity::ok, "Redis " + f.redis_version});
  }
}

void eviction(const DurabilityFacts& f, std::vector<Finding>& out) {
  if (!f.maxmemory_policy) {
    out.push_back({"eviction policy", Severity::warn, "unknown (CONFIG GET refused): it must be noeviction"});
  } else if (*f.maxmemory_policy != "noeviction") {
    out.push_back({"eviction policy", Severity::fail,
                   "maxmemory-policy is " + *f.maxmemory_policy + ": Redis may evict queued events (set noeviction)"});
  } else {
    out.push_back({"eviction policy", Severity::ok, "noeviction"});
  }
}

void persistence(const DurabilityFacts& f, std::vector<Finding>& out) {
  const bool replicated = f.handler_min_replicas > 0;
  if (!f.appendonly) {
    out.push_back({"AOF", Severity::warn, "unknown (CONFIG GET refused): appendonly yes is needed"});
  } else if (!*f.appendonly) {
    out.push_back({"AOF", Severity::fail, "appendonly no: a restart loses every write since the last RDB snapshot"});
  } else if (f.appendfsync == "always") {
    out.push_back({"AOF", Severity::ok, "appendonly yes, appendfsync always"});
  } else if (f.appendfsync == "everysec") {
    out.push_back({"AOF", replicated ? Severity::ok : Severity::warn,
                   replicated ? "appendfsync everysec; a replica confirms every write (BOARDHOOK_REDIS_MIN_REPLICAS)"
                              : "appendfsync everysec: the host's crash (not Redis's) can lose up to the last second"});
  } else {
    out.push_back({"AOF", replicated ? Severity::warn : Severity::fail,
                   "appendfsync " + f.appendfsync.value_or("?") + ": the kernel decides when writes reach the disk"});
  }
}

void replication(const DurabilityFacts& f, std::vector<Finding>& out) {
  if (f.role != "master") {
    out.push_back({"role", Severity::fail, "this Redis is a " + f.role + ", not a primary"});
    return;
  }
  const auto online = std::count_if(f.replicas.begin(), f.replicas.end(), [](const ReplicaView& r) { return r.state == "online"; });
  std::string detail = std::to_string(online) + " replica(s) online";
  std::int64_t lag = 0;
  for (const ReplicaView& replica : f.replicas) lag = std::max(lag, replica.lag_seconds);
  if (!f.replicas.empty()) detail += ", largest lag " + std::to_string(lag) + " s";
  if (f.handler_min_replicas > 0 && online < f.handler_min_replicas) {
    out.push_back({"replicas", Severity::warn,
                   detail + "; BOARDHOOK_REDIS_MIN_REPLICAS=" + std::to_string(f.handler_min_replicas) +
                       " is not met, so every POST is also spooled until it is"});
  } else if (f.handler_min_replicas == 0 && !f.uses_sentinel) {
    out.push_back({"replicas", online > 0 ? Severity::ok : Severity::warn,
                   detail + (online > 0 ? "" : "; one Redis host: losing its disk loses what it holds")});
  } else {
    out.push_back({"replicas", Severity::ok, detail});
  }
  if (f.uses_sentinel && f.handler_min_replicas == 0) {
    out.push_back({"acknowledgement", Severity::fail,
                   "BOARDHOOK_REDIS_MIN_REPLICAS=0 with Sentinel: a failover loses the writes not yet replicated, "
                   "though they were answered 200 (set 1)"});
  }
  if (f.min_replicas_to_write.value_or(0) == 0) {
    const bool matters = f.uses_sentinel;
    out.push_back({"min-replicas-to-write", matters ? (f.handler_min_replicas > 0 ? Severity::warn : Severity::fail) : Severity::ok,
                   matters ? "0: a primary cut off from its replicas keeps taking writes that the failover discards"
                           : "0 (no replication to guard)"});
  } else {
    out.push_back({"min-replicas-to-write", Severity::ok,
                   std::to_string(*f.min_replicas_to_write) + ", max lag " + std::to_string(f.min_replicas_max_lag.value_or(0)) + " s"});
  }
}

void sentinels(const DurabilityFacts& f, std::vector<Finding>& out) {
  if (!f.uses_sentinel) return;
  std::set<std::string> named;
  std::size_t reachable = 0;
  bool quorum = false;
  std::string quorum_detail;
  for (const SentinelView& s : f.sentinels) {
    if (!s.reachable) continue;
    ++reachable;
    named.insert(s.primary);
    if (s.quorum_ok.value_or(false)) quorum = true;
    if (quorum_detail.empty()) quorum_detail = s.quorum_detail;
  }
  const std::string counts = std::to_string(reachable) + " of " + std::to_string(f.sentinels.size()) + " Sentinel(s) answer";
  if (named.size() > 1) {
    out.push_back({"sentinels", Severity::warn, counts + ", naming different primaries (a failover under way, or a partition)"});
  } else {
    out.push_back({"sentinels", reachable == f.sentinels.size() ? Severity::ok : Severity::warn,
                   counts + (named.empty() ? "" : ", all naming " + *named.begin())});
  }
  out.push_back({"quorum", quorum ? Severity::ok : Severity::fail,
                 quorum ? quorum_detail : "no Sentinel can reach a quorum: a failed primary would not be replaced (" + quorum_detail + ")"});
}

void spool(const DurabilityFacts& f, std::vector<Finding>& out) {
  if (f.spool_dir.empty()) {
    out.push_back({"spool", Severity::warn, "BOARDHOOK_SPOOL_DIR is not set here: while Redis is away POSTs get 503, "
                                            "and Socialboards keeps no copy"});
  } else if (!f.spool_writable.value_or(false)) {
    out.push_back({"spool", Severity::warn, f.spool_dir + " is not writable from here (check it as the handler's user)"});
  } else {
    out.push_back({"spool", f.spool_records == 0 ? Severity::ok : Severity::warn,
                   f.spool_dir + ": " + std::to_string(f.spool_records) + " record(s) waiting to drain"});
  }
  if (f.handler_min_replicas > 0 && f.dedup_seconds == 0) {
    out.push_back({"deduplication", Severity::warn,
                   "off: events spooled when replicas were short are queued twice when the spool drains"});
  }
}

}  // namespace

std::vector<Finding> assess_durability(const DurabilityFacts& facts) {
  std::vector<Finding> findings;
  version(facts, findings);
  eviction(facts, findings);
  persistence(facts, findings);
  replication(facts, findings);
  sentinels(facts, findings);
  spool(facts, findings);
  return findings;
}

bool keeps_the_promise(const std::vector<Finding>& findings) {
  return std::none_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::fail; });
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::ok: return "ok";
    case Severity::warn: return "warn";
    case Severity::fail: return "FAIL";
  }
  return "?";
}

}  // namespace boardhook::core
