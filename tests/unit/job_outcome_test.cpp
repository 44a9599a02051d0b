// job_outcome_test.cpp -- what a worker does with an event after running it, and how it records that.
#include <catch2/catch.hpp>

#include "core/job_outcome.hpp"

using namespace boardhook::core;
using std::chrono::milliseconds;

namespace {

const RetryPolicy policy{3, milliseconds(1000), milliseconds(300'000)};
const RunReport ok{DeliveryVerdict::acknowledge, std::nullopt, false};
const RunReport failed{DeliveryVerdict::retry, std::nullopt, false};

std::vector<std::string> command(const Transaction& t, std::size_t i) {
  return std::vector<std::string>(t.commands.at(i).begin(), t.commands.at(i).end());
}

}  // namespace

TEST_CASE("an event that is not an envelope, or whose attempts are used up, is not run") {
  CHECK(reason_not_to_run(false, 0, 3) == "not a boardhook envelope");
  CHECK_FALSE(reason_not_to_run(true, 3, 3));
  CHECK(reason_not_to_run(true, 4, 3) == "not run again: 3 earlier attempt(s) ended without a result");
}

TEST_CASE("success acknowledges; failure retries with back-off until the last attempt, then it is dead") {
  const JobOutcome done = decide_after_job(ok, true, 1, policy, 0.5);
  CHECK(done.verdict == Verdict::acknowledge);
  CHECK(done.counter == Counter::done);
  const JobOutcome first = decide_after_job(failed, true, 1, policy, 0.0);
  CHECK(first.verdict == Verdict::retry);
  CHECK(first.counter == Counter::retried);
  CHECK(first.retry_in == milliseconds(500));
  CHECK(decide_after_job(failed, true, 2, policy, 0.999).retry_in == milliseconds(1999));
  const JobOutcome last = decide_after_job(failed, true, 3, policy, 0.5);
  CHECK(last.verdict == Verdict::dead);
  CHECK(last.counter == Counter::dead);
  CHECK(decide_after_job(failed, false, 0, policy, 0.5).verdict == Verdict::dead);
}

TEST_CASE("a destination's refusal for good is dead at once; its Retry-After is kept; an opened circuit gives the event back") {
  const JobOutcome refused = decide_after_job({DeliveryVerdict::dead, std::nullopt, false}, true, 1, policy, 0.5);
  CHECK(refused.verdict == Verdict::dead);
  const JobOutcome later = decide_after_job({DeliveryVerdict::retry, milliseconds(120'000), false}, true, 1, policy, 0.0);
  CHECK(later.verdict == Verdict::retry);
  CHECK(later.retry_in == milliseconds(120'000));
  CHECK(decide_after_job({DeliveryVerdict::retry, milliseconds(10), false}, true, 1, policy, 0.0).retry_in == milliseconds(500));
  const JobOutcome spared = decide_after_job({DeliveryVerdict::retry, std::nullopt, true}, true, 3, policy, 0.5);
  CHECK(spared.verdict == Verdict::give_back);
  const HeldJob job{"bh", "t", "bh:processing:w:0", "{\"e\":1}", "id-1", "w:0"};
  const Transaction back = outcome_transaction(job, spared, 3, JobFailure{}, 5000);
  REQUIRE(back.commands.size() == 3);
  CHECK(command(back, 1) == std::vector<std::string>{"RPUSH", "bh:queue:t", "{\"e\":1}"});
  CHECK(command(back, 2) == std::vector<std::string>{"HINCRBY", "bh:attempts:t", "id-1", "-1"});
}

TEST_CASE("the outcome is recorded in one transaction that removes the event from the processing list") {
  const HeldJob job{"bh", "a b", "bh:processing:w:0", "{\"e\":1}", "id-1", "w:0"};
  JobFailure failure;
  failure.error = "exit code 3";

  const Transaction ack = outcome_transaction(job, decide_after_job(ok, true, 1, policy, 0), 1, failure, 5000);
  REQUIRE(ack.commands.size() == 3);
  CHECK(command(ack, 0) == std::vector<std::string>{"LREM", "bh:processing:w:0", "1", "{\"e\":1}"});
  CHECK(command(ack, 1) == std::vector<std::string>{"HDEL", "bh:attempts:a%20b", "id-1"});
  CHECK(command(ack, 2) == std::vector<std::string>{"HINCRBY", "bh:counters", "done:a%20b", "1"});

  const Transaction retry = outcome_transaction(job, decide_after_job(failed, true, 1, policy, 0), 1, failure, 5000);
  REQUIRE(retry.commands.size() == 3);
  CHECK(command(retry, 1) == std::vector<std::string>{"ZADD", "bh:retry:a%20b", "5500", "{\"e\":1}"});
  CHECK(command(retry, 2) == std::vector<std::string>{"HINCRBY", "bh:counters", "retried:a%20b", "1"});

  const Transaction dead = outcome_transaction(job, decide_after_job(failed, true, 3, policy, 0), 3, failure, 5000);
  REQUIRE(dead.commands.size() == 4);
  CHECK(command(dead, 1)[0] == "LPUSH");
  CHECK(command(dead, 1)[1] == "bh:dead:a%20b");
  const auto record = parse_dead_record(command(dead, 1)[2]);
  REQUIRE(record);
  CHECK(record->envelope == "{\"e\":1}");
  CHECK(record->attempts == 3);
  CHECK(record->worker == "w:0");
  CHECK(record->failure.error == "exit code 3");
  CHECK(command(dead, 2) == std::vector<std::string>{"HDEL", "bh:attempts:a%20b", "id-1"});
  CHECK(command(dead, 3) == std::vector<std::string>{"HINCRBY", "bh:counters", "dead:a%20b", "1"});
}

TEST_CASE("what is not an envelope has no attempts to forget") {
  const HeldJob job{"bh", "t", "bh:processing:w:0", "junk", "", "w:0"};
  const Transaction dead = outcome_transaction(job, decide_after_job(failed, false, 0, policy, 0), 0, JobFailure{}, 1);
  for (const auto& c : dead.commands) CHECK(c[0] != "HDEL");
}
