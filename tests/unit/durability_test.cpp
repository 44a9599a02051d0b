// durability_test.cpp -- doctor's rules: each unsafe setting is a FAIL, each risk a warning.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/durability.hpp"

using namespace boardhook::core;

namespace {

// The shipped single-Redis setup: AOF everysec, noeviction, a spool.
DurabilityFacts safe_single() {
  DurabilityFacts f;
  f.redis_version = "7.0.15";
  f.maxmemory_policy = "noeviction";
  f.appendonly = true;
  f.appendfsync = "everysec";
  f.role = "master";
  f.min_replicas_to_write = 0;
  f.min_replicas_max_lag = 10;
  f.spool_dir = "/var/lib/boardhook/spool";
  f.spool_writable = true;
  f.dedup_seconds = 3600;
  return f;
}

// The shipped replicated setup: 2 replicas, 3 Sentinels, MIN_REPLICAS=1.
DurabilityFacts safe_sentinel() {
  DurabilityFacts f = safe_single();
  f.replicas = {{"10.0.0.2:6379", "online", 0}, {"10.0.0.3:6379", "online", 1}};
  f.min_replicas_to_write = 1;
  f.min_replicas_max_lag = 3;
  f.uses_sentinel = true;
  f.handler_min_replicas = 1;
  for (const char* s : {"10.0.0.4:26379", "10.0.0.5:26379", "10.0.0.6:26379"}) {
    f.sentinels.push_back({s, true, "10.0.0.1:6379", true, "OK 3 usable Sentinels"});
  }
  return f;
}

Severity severity_of(const std::vector<Finding>& findings, const std::string& check) {
  const auto found = std::find_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.check == check; });
  REQUIRE(found != findings.end());
  return found->severity;
}

}  // namespace

TEST_CASE("the shipped setups keep the promise") {
  CHECK(keeps_the_promise(assess_durability(safe_single())));
  const auto findings = assess_durability(safe_sentinel());
  CHECK(keeps_the_promise(findings));
  for (const Finding& f : findings) {
    INFO(f.check << ": " << f.detail);
    CHECK(f.severity == Severity::ok);
  }
}

TEST_CASE("each setting that can lose an acknowledged event is a FAIL") {
  struct Case {
    const char* what;
    const char* check;
    void (*spoil)(DurabilityFacts&);
  };
  const Case cases[] = {
      {"an eviction policy", "eviction policy", [](DurabilityFacts& f) { f.maxmemory_policy = "allkeys-lru"; }},
      {"AOF off", "AOF", [](DurabilityFacts& f) { f.appendonly = false; }},
      {"appendfsync no, unreplicated", "AOF", [](DurabilityFacts& f) { f.appendfsync = "no"; }},
      {"Redis 6", "redis version", [](DurabilityFacts& f) { f.redis_version = "6.2.14"; }},
      {"a replica", "role", [](DurabilityFacts& f) { f.role = "slave"; }},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    DurabilityFacts facts = safe_single();
    c.spoil(facts);
    const auto findings = assess_durability(facts);
    CHECK(severity_of(findings, c.check) == Severity::fail);
    CHECK_FALSE(keeps_the_promise(findings));
  }
}

TEST_CASE("with Sentinel, acknowledging before replication, or a quorum out of reach, is a FAIL") {
  DurabilityFacts no_wait = safe_sentinel();
  no_wait.handler_min_replicas = 0;
  CHECK(severity_of(assess_durability(no_wait), "acknowledgement") == Severity::fail);
  no_wait.min_replicas_to_write = 0;
  CHECK(severity_of(assess_durability(no_wait), "min-replicas-to-write") == Severity::fail);

  DurabilityFacts spooled_instead = safe_sentinel();
  spooled_instead.min_replicas_to_write = 0;  // the handler's WAIT still spools what is not replicated
  CHECK(severity_of(assess_durability(spooled_instead), "min-replicas-to-write") == Severity::warn);

  DurabilityFacts no_quorum = safe_sentinel();
  for (auto& s : no_quorum.sentinels) s.quorum_ok = false;
  CHECK(severity_of(assess_durability(no_quorum), "quorum") == Severity::fail);
}

TEST_CASE("risks that lose nothing acknowledged are warnings") {
  DurabilityFacts f = safe_sentinel();
  f.replicas = {{"10.0.0.2:6379", "wait_bgsave", 0}};
  f.sentinels[0].primary = "10.0.0.2:6379";
  f.sentinels[2].reachable = false;
  f.dedup_seconds = 0;
  f.spool_records = 12;
  const auto findings = assess_durability(f);
  CHECK(keeps_the_promise(findings));
  CHECK(severity_of(findings, "replicas") == Severity::warn);
  CHECK(severity_of(findings, "sentinels") == Severity::warn);
  CHECK(severity_of(findings, "deduplication") == Severity::warn);
  CHECK(severity_of(findings, "spool") == Severity::warn);
  DurabilityFacts no_spool = safe_single();
  no_spool.spool_dir.clear();
  CHECK(severity_of(assess_durability(no_spool), "spool") == Severity::warn);
  DurabilityFacts unknown = safe_single();
  unknown.maxmemory_policy.reset();
  CHECK(severity_of(assess_durability(unknown), "eviction policy") == Severity::warn);
}
