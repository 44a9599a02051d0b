// ingest_test.cpp -- the arguments of the ingest script for one notification and a batch of them.
// (integration.ingest runs the script itself against Redis.)
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/envelope.hpp"
#include "core/ingest.hpp"

using namespace boardhook::core;

namespace {

std::string envelope(char digit, std::string_view rest = "") {
  return "{\"id\":\"" + std::string(64, digit) + "\"" + std::string(rest) + "}";
}

StoreEvents store_of(std::string prefix, std::string type, std::vector<std::string> envelopes) {
  return {prefix + ":queue:" + type, prefix + ":event-types", prefix + ":counters", type, std::move(envelopes)};
}

std::vector<std::string> words(const RedisCommand& command) { return {command.begin(), command.end()}; }

}  // namespace

TEST_CASE("one notification is one EVAL: its keys, the window, then its type, counter field and id/envelope pairs") {
  const StoreEvents store = store_of("bh", "a b", {envelope('1'), envelope('2')});
  const StoreEvents* stores[] = {&store};
  const IngestCommand command = ingest_command_for(stores, 3600, "bh:seen:");
  REQUIRE(command.transaction.commands.size() == 1);
  CHECK(command.groups == 1);
  CHECK(command.group_of_request == std::vector<std::size_t>{0});
  const auto args = words(command.transaction.commands[0]);
  const std::vector<std::string> expected = {"EVAL", std::string(ingest_script), "3", "bh:queue:a b", "bh:event-types",
                                             "bh:counters", "3600", "bh:seen:", "a b", "queued:a%20b", "2",
                                             std::string(64, '1'), envelope('1'), std::string(64, '2'), envelope('2')};
  CHECK(args == expected);
}

TEST_CASE("a batch shares one group per queue, envelopes in request order") {
  const StoreEvents first = store_of("bh", "A", {envelope('1'), envelope('2')});
  const StoreEvents second = store_of("bh", "B", {envelope('3')});
  const StoreEvents third = store_of("bh", "A", {envelope('4')});
  const StoreEvents other_prefix = store_of("other", "A", {envelope('5')});
  const StoreEvents* stores[] = {&first, &second, &third, &other_prefix};
  const IngestCommand command = ingest_command_for(stores, 0, "bh:seen:");
  CHECK(command.groups == 3);
  CHECK(command.group_of_request == std::vector<std::size_t>{0, 1, 0, 2});
  const auto args = words(command.transaction.commands[0]);
  REQUIRE(args.size() == 3 + 9 + 2 + 3 * 3 + 2 * 5);
  CHECK(args[2] == "9");
  CHECK(std::vector<std::string>(args.begin() + 3, args.begin() + 12) ==
        std::vector<std::string>{"bh:queue:A", "bh:event-types", "bh:counters", "bh:queue:B", "bh:event-types", "bh:counters",
                                 "other:queue:A", "other:event-types", "other:counters"});
  CHECK(args[12] == "0");
  // Group A: 3 envelopes, the first request's then the third's.
  CHECK(std::vector<std::string>(args.begin() + 14, args.begin() + 17) == std::vector<std::string>{"A", "queued:A", "3"});
  CHECK(args[18] == envelope('1'));
  CHECK(args[20] == envelope('2'));
  CHECK(args[22] == envelope('4'));
  CHECK(std::vector<std::string>(args.begin() + 23, args.begin() + 26) == std::vector<std::string>{"B", "queued:B", "1"});
}

TEST_CASE("an envelope's id is read from its head; text of another shape has none and is never skipped") {
  CHECK(envelope_id(envelope('a', ",\"x\":1")) == std::string(64, 'a'));
  CHECK_FALSE(envelope_id("{\"id\":\"short\"}"));
  CHECK_FALSE(envelope_id("{\"x\":1}"));
  CHECK_FALSE(envelope_id(envelope('G')));
  const StoreEvents store = store_of("bh", "A", {"not an envelope"});
  const StoreEvents* stores[] = {&store};
  const auto args = words(ingest_command_for(stores, 60, "bh:seen:").transaction.commands[0]);
  CHECK(args[args.size() - 2] == "");
}

TEST_CASE("a batch's arguments point into the requests' envelopes, not copies") {
  const StoreEvents store = store_of("bh", "A", {envelope('1', std::string(4096, 'x'))});
  const StoreEvents* stores[] = {&store, &store};
  const IngestCommand command = ingest_command_for(stores, 0, "bh:seen:");
  const RedisCommand& eval = command.transaction.commands[0];
  CHECK(eval[eval.size() - 1].data() == store.envelopes[0].data());
  CHECK(eval[eval.size() - 3].data() == store.envelopes[0].data());
}

TEST_CASE("the seen-key prefix is kept by the command: callers pass a temporary (seen_key_prefix's string)") {
  const StoreEvents store = store_of("bh-web", "A", {envelope('1')});
  const StoreEvents* stores[] = {&store};
  const IngestCommand command = ingest_command_for(stores, 0, std::string("bh-web:") + "seen:");
  // The temporary is gone: under ASan (scripts/test's build/asan) reading a view into it is a
  // stack-use-after-scope, and in any build the text may have been overwritten.
  CHECK(command.transaction.commands[0][7] == "bh-web:seen:");
}
