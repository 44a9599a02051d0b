// writes_test.cpp -- the Redis commands of one notification and of a batch of them.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/writes.hpp"

using namespace boardhook::core;

namespace {

StoreEvents store_of(std::string prefix, std::string type, std::vector<std::string> envelopes) {
  return {prefix + ":queue:" + type, prefix + ":event-types", prefix + ":counters", type, std::move(envelopes)};
}

std::vector<std::string> words(const RedisCommand& command) { return {command.begin(), command.end()}; }

}  // namespace

TEST_CASE("one notification is LPUSH, SADD and HINCRBY by its number of events") {
  const StoreEvents store = store_of("bh", "TicketCreated", {"e1", "e2"});
  const Transaction transaction = transaction_for(store);
  REQUIRE(transaction.commands.size() == 3);
  CHECK(words(transaction.commands[0]) == std::vector<std::string>{"LPUSH", "bh:queue:TicketCreated", "e1", "e2"});
  CHECK(words(transaction.commands[1]) == std::vector<std::string>{"SADD", "bh:event-types", "TicketCreated"});
  CHECK(words(transaction.commands[2]) == std::vector<std::string>{"HINCRBY", "bh:counters", "queued:TicketCreated", "2"});
}

TEST_CASE("a batch of one is the single notification's transaction") {
  const StoreEvents store = store_of("bh", "T", {"a", "b", "c"});
  const StoreEvents* stores[] = {&store};
  const BatchTransaction batch = batch_transaction_for(stores);
  REQUIRE(batch.transaction.commands.size() == 3);
  CHECK(words(batch.transaction.commands[0]) == std::vector<std::string>{"LPUSH", "bh:queue:T", "a", "b", "c"});
  CHECK(words(batch.transaction.commands[1]) == std::vector<std::string>{"SADD", "bh:event-types", "T"});
  CHECK(words(batch.transaction.commands[2]) == std::vector<std::string>{"HINCRBY", "bh:counters", "queued:T", "3"});
  REQUIRE(batch.groups.size() == 1);
  CHECK(batch.groups[0].first_command == 0);
  CHECK(batch.groups[0].end_command == 3);
  CHECK(batch.group_of_request == std::vector<std::size_t>{0});
}

TEST_CASE("a batch shares one LPUSH per queue, envelopes in request order, and counts them all") {
  const StoreEvents first = store_of("bh", "A", {"a1", "a2"});
  const StoreEvents second = store_of("bh", "B", {"b1"});
  const StoreEvents third = store_of("bh", "A", {"a3"});
  const StoreEvents other_prefix = store_of("other", "A", {"x1"});
  const StoreEvents* stores[] = {&first, &second, &third, &other_prefix};
  const BatchTransaction batch = batch_transaction_for(stores);

  REQUIRE(batch.groups.size() == 3);
  CHECK(batch.group_of_request == std::vector<std::size_t>{0, 1, 0, 2});
  const auto& commands = batch.transaction.commands;
  REQUIRE(commands.size() == 9);
  // LPUSH a1 a2 a3 leaves a3 leftmost: the queue's consuming (right) end gets a1 first.
  CHECK(words(commands[0]) == std::vector<std::string>{"LPUSH", "bh:queue:A", "a1", "a2", "a3"});
  CHECK(words(commands[1]) == std::vector<std::string>{"SADD", "bh:event-types", "A"});
  CHECK(words(commands[2]) == std::vector<std::string>{"HINCRBY", "bh:counters", "queued:A", "3"});
  CHECK(words(commands[3]) == std::vector<std::string>{"LPUSH", "bh:queue:B", "b1"});
  CHECK(words(commands[5]) == std::vector<std::string>{"HINCRBY", "bh:counters", "queued:B", "1"});
  CHECK(words(commands[6]) == std::vector<std::string>{"LPUSH", "other:queue:A", "x1"});
  CHECK(words(commands[7]) == std::vector<std::string>{"SADD", "other:event-types", "A"});
  for (std::size_t group = 0; group < batch.groups.size(); ++group) {
    CHECK(batch.groups[group].first_command == 3 * group);
    CHECK(batch.groups[group].end_command == 3 * group + 3);
  }
}

TEST_CASE("a batch's commands point into the requests' envelopes, not copies") {
  const StoreEvents store = store_of("bh", "A", {std::string(4096, 'x')});
  const StoreEvents* stores[] = {&store, &store};
  const BatchTransaction batch = batch_transaction_for(stores);
  REQUIRE(batch.transaction.commands[0].size() == 4);
  CHECK(batch.transaction.commands[0][2].data() == store.envelopes[0].data());
  CHECK(batch.transaction.commands[0][3].data() == store.envelopes[0].data());
}
