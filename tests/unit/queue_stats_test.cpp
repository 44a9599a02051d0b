// queue_stats_test.cpp -- the queue snapshot's JSON form, rates between snapshots, counter fields.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "core/queue_stats.hpp"

using namespace boardhook::core;
namespace json = boost::json;

namespace {

QueueStats snapshot(std::int64_t at_ms, std::int64_t done) {
  QueueStats stats;
  stats.at_ms = at_ms;
  TypeStats row;
  row.type = "ticket_status_change";
  row.queued = 3;
  row.oldest_age_ms = 90000;
  row.totals = {{Counter::queued, 10}, {Counter::done, done}};
  stats.types.push_back(row);
  WorkerStats worker;
  worker.id = "h:1:abcdef";
  worker.record = WorkerRecord{"h", 1, 2, "2026-12-04T10:00:00.000Z", {"ticket_status_change"}, {}};
  worker.alive = true;
  worker.last_heartbeat_ms = at_ms - 500;
  worker.running = 1;
  stats.workers.push_back(worker);
  stats.rejected = 2;
  return stats;
}

}  // namespace

TEST_CASE("counter fields read back as the counter and the type's key part") {
  for (const Counter counter : all_counters) {
    const auto field = parse_counter_field(counter_field(counter, "Ticket cr\xC3\xA9\xC3\xA9"));
    REQUIRE(field);
    CHECK(field->counter == counter);
    CHECK(field->type_key_part == "Ticket%20cr%C3%A9%C3%A9");
  }
  CHECK_FALSE(parse_counter_field("other:x"));
  CHECK_FALSE(parse_counter_field("queued:"));
  CHECK_FALSE(parse_counter_field("queued"));
}

TEST_CASE("a snapshot's JSON names every count, every total and each worker's record") {
  const json::object out = to_json(snapshot(1709210096789, 4));
  CHECK(out.at("at").as_string() == "2024-02-29T12:34:56.789Z");
  const json::object& row = out.at("types").as_array().at(0).as_object();
  CHECK(row.at("queued").as_int64() == 3);
  CHECK(row.at("oldest_age_ms").as_int64() == 90000);
  CHECK(row.at("totals").as_object().at("done").as_int64() == 4);
  CHECK(row.at("totals").as_object().at("dead").as_int64() == 0);
  CHECK_FALSE(row.contains("per_second"));
  const json::object& worker = out.at("workers").as_array().at(0).as_object();
  CHECK(worker.at("consumers").as_int64() == 2);
  CHECK(worker.at("alive").as_bool());
  CHECK(out.at("rejected").as_int64() == 2);
  CHECK(out.at("spool").is_null());
}

TEST_CASE("rates are the change of a total over the time between two snapshots") {
  const QueueStats before = snapshot(10'000, 4), now = snapshot(12'000, 14);
  CHECK(rate_per_second(now, before, "ticket_status_change", Counter::done) == Approx(5.0));
  CHECK(rate_per_second(now, before, "ticket_status_change", Counter::queued) == Approx(0.0));
  CHECK(rate_per_second(now, before, "unknown", Counter::done) == Approx(0.0));
  CHECK(rate_per_second(before, before, "ticket_status_change", Counter::done) == Approx(0.0));
  const json::object out = to_json(now, &before);
  CHECK(out.at("types").as_array().at(0).as_object().at("per_second").as_object().at("done").as_double() == Approx(5.0));
}
