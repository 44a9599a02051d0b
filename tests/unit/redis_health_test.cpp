// redis_health_test.cpp -- which Redis servers may hold the queues, judged from INFO text.
#include <catch2/catch.hpp>

#include "core/redis_health.hpp"

using namespace boardhook::core;

TEST_CASE("a Redis with noeviction and AOF may hold the queues, without warnings") {
  const RedisHealth health = assess_redis("# Memory\r\nused_memory:1\r\nmaxmemory_policy:noeviction\r\n# Persistence\r\naof_enabled:1\r\n");
  CHECK(health.may_queue);
  CHECK(health.warnings.empty());
}

TEST_CASE("an evicting Redis is refused, naming its policy") {
  const RedisHealth health = assess_redis("maxmemory_policy:allkeys-lru\r\naof_enabled:1\r\n");
  CHECK_FALSE(health.may_queue);
  CHECK(health.refusal.find("\"allkeys-lru\"") != std::string::npos);
  CHECK(health.refusal.find("noeviction") != std::string::npos);
}

TEST_CASE("a Redis whose policy cannot be read is refused") {
  CHECK_FALSE(assess_redis("aof_enabled:1\r\n").may_queue);
}

TEST_CASE("AOF switched off is a warning, not a refusal") {
  const RedisHealth health = assess_redis("maxmemory_policy:noeviction\naof_enabled:0\n");
  CHECK(health.may_queue);
  REQUIRE(health.warnings.size() == 1);
  CHECK(health.warnings[0].find("appendonly is off") != std::string::npos);
}

TEST_CASE("INFO fields are matched by their whole name") {
  CHECK(info_field("maxmemory_policy_x:1\r\nmaxmemory_policy:volatile-lru\r\n", "maxmemory_policy") == "volatile-lru");
  CHECK(info_field("a:1", "b").empty());
}
