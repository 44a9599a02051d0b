// event_type_counters_test.cpp -- the wait-free per-type counters /metrics keeps in shared memory.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/event_type_counters.hpp"

using namespace boardhook::core;

namespace {

using Table = EventTypeCounters<8, 32>;

std::map<std::string, std::uint64_t> counts_of(const Table& table) {
  std::map<std::string, std::uint64_t> counts;
  for (const auto& [name, count] : table.snapshot()) counts[name] += count;
  return counts;
}

// Runs add() on another thread and waits at most two seconds for it: an implementation that
// waits on a dead process's progress fails here instead of hanging the test run.
bool adds_without_waiting(Table& table, const std::string& name, std::uint64_t events) {
  auto done = std::async(std::launch::async, [&] { table.add(name, events); });
  if (done.wait_for(std::chrono::seconds(2)) == std::future_status::ready) return true;
  std::quick_exit(1);  // the thread spins for good: nothing else can be tested in this process
}

}  // namespace

TEST_CASE("counts are kept by event type and read back by name") {
  auto table = std::make_unique<Table>();
  table->add("ticket_status_change", 2);
  table->add("note_deletion", 1);
  table->add("ticket_status_change", 3);
  CHECK(counts_of(*table) == std::map<std::string, std::uint64_t>{{"note_deletion", 1}, {"ticket_status_change", 5}});
}

TEST_CASE("types beyond the slots are counted together as (other)") {
  auto table = std::make_unique<Table>();
  for (int i = 0; i < 12; ++i) table->add("type-" + std::to_string(i), 1);
  const auto counts = counts_of(*table);
  CHECK(counts.size() == 9);
  CHECK(counts.at("(other)") == 4);
}

TEST_CASE("a slot claimed by a process killed before it wrote the name holds up nobody") {
  auto table = std::make_unique<Table>();
  const std::string name = "ticket_status_change";
  // What a killed claimer leaves: the key swapped in, no name, no count.
  auto& slot = table->slots[Table::home_slot(name)];
  slot.key.store(Table::key_of(name));

  REQUIRE(adds_without_waiting(*table, name, 4));
  CHECK(counts_of(*table) == std::map<std::string, std::uint64_t>{{name, 4}});

  // Another type whose home slot a dead claimer of a third name took moves on to the next slot.
  auto other = std::make_unique<Table>();
  other->slots[Table::home_slot(name)].key.store(Table::key_of("a-name-that-never-got-written"));
  REQUIRE(adds_without_waiting(*other, name, 1));
  CHECK(counts_of(*other) == std::map<std::string, std::uint64_t>{{name, 1}});
}

TEST_CASE("threads adding to the same and to different types at once lose no count") {
  auto table = std::make_unique<EventTypeCounters<64, 32>>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table] {
      for (int i = 0; i < 20000; ++i) table->add("type-" + std::to_string(i % 40), 1);
    });
  }
  for (auto& thread : threads) thread.join();
  std::uint64_t total = 0;
  std::size_t names = 0;
  for (const auto& [name, count] : table->snapshot()) {
    total += count;
    ++names;
    CHECK(count == 2000);
  }
  CHECK(names == 40);
  CHECK(total == 80000);
}
