// worker_record_test.cpp -- worker and consumer ids and the worker record: written once, read back.
#include <catch2/catch.hpp>

#include "core/worker_record.hpp"

using namespace boardhook::core;

TEST_CASE("a worker id is host, pid and a six-digit nonce; a consumer id adds its number") {
  CHECK(make_worker_id("vm-3", 4242, 0xabcdef) == "vm-3:4242:abcdef");
  CHECK(make_worker_id("h", 1, 0x12) == "h:1:000012");
  CHECK(make_worker_id("h", 1, 0xff123456) == "h:1:123456");
  CHECK(consumer_id("vm-3:4242:abcdef", 0) == "vm-3:4242:abcdef:0");
  CHECK(consumer_id("vm-3:4242:abcdef", 12) == "vm-3:4242:abcdef:12");
}

TEST_CASE("a worker record reads back as it was written") {
  const WorkerRecord record{"host \"x\"", 77, 4, "2026-12-04T10:00:00.000Z", {"ticket_status_change", "Ticket cr\xC3\xA9\xC3\xA9"}};
  const auto back = parse_worker_record(make_worker_record(record));
  REQUIRE(back);
  CHECK(back->host == record.host);
  CHECK(back->pid == 77);
  CHECK(back->consumers == 4);
  CHECK(back->started_at == record.started_at);
  CHECK(back->types == record.types);
}

TEST_CASE("a worker record of another shape keeps defaults, and consumers stay within bounds") {
  CHECK_FALSE(parse_worker_record("not json"));
  CHECK_FALSE(parse_worker_record("[1]"));
  const auto empty = parse_worker_record("{}");
  REQUIRE(empty);
  CHECK(empty->consumers == 1);
  CHECK(empty->types.empty());
  CHECK(parse_worker_record(R"({"consumers":1000000})")->consumers == max_consumers);
  CHECK(parse_worker_record(R"({"consumers":-3})")->consumers == 1);
  CHECK(parse_worker_record(R"({"consumers":"2","types":["a",3,"b"]})")->types == std::vector<std::string>{"a", "b"});
}
