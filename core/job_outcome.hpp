// job_outcome.hpp -- what a worker does with an event it took, before and after running it:
// run it or not, then acknowledge it, retry it later, or make it a dead letter; and the one
// transaction that records that. Pure: the worker performs what these return.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/dead_letter.hpp"
#include "core/delivery.hpp"
#include "core/envelope.hpp"
#include "core/keys.hpp"
#include "core/writes.hpp"

namespace boardhook::core {

// The field of <prefix>:attempts:<type> that counts the attempts of this queued copy of an event:
// <id>:<delivery>:<index>.
std::string attempts_field(const EnvelopeSummary& summary);

struct RetryPolicy {
  std::int64_t max_attempts = 5;
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_max{300'000};
};

// Why a taken event is not run at all (it fails at once), or nullopt to run it: what is not an
// envelope cannot be run; an attempt beyond the budget means earlier ones never reported back
// (the job took its workers down with it), so it is not run again.
std::optional<std::string> reason_not_to_run(bool is_envelope, std::int64_t attempt, std::int64_t max_attempts);

// give_back: the event goes back to the consuming end of its queue with its attempt undone (its
// destination's circuit opened on it: the destination failed, not the event).
enum class Verdict { acknowledge, retry, dead, give_back };

struct JobOutcome {
  Verdict verdict = Verdict::acknowledge;
  std::chrono::milliseconds retry_in{0};  // for Verdict::retry
  Counter counter = Counter::done;        // the running total it adds to
};

// How a run ended, as its destination reports it.
struct RunReport {
  DeliveryVerdict verdict = DeliveryVerdict::retry;      // acknowledge, retry, or dead at once (an HTTP 404, say)
  std::optional<std::chrono::milliseconds> retry_after;  // the destination asked for this delay
  bool spare_attempt = false;                            // its circuit opened on it: give it back
};

// After attempt `attempt` (1, 2, ...) ran (or was not run): success acknowledges; a failure is
// retried after the back-off (equal jitter from `random_fraction` in [0, 1)), or after the delay
// the destination asked for, until the last attempt, then it is dead; what is not an envelope, or
// what the destination refused for good, is dead at once.
JobOutcome decide_after_job(const RunReport& report, bool is_envelope, std::int64_t attempt, const RetryPolicy& policy,
                            double random_fraction);

// The event a consumer holds and where it goes.
struct HeldJob {
  std::string_view prefix;
  std::string_view event_type;     // the queue it came from
  std::string_view processing;     // the consumer's processing list
  std::string_view envelope;       // exactly as taken
  std::string_view attempts_field; // empty when it is not an envelope
  std::string_view consumer;       // consumer id, for the dead letter
  // With --order-by ticket, the ticket it holds ("" when its type is not ordered or it has none)
  // and how long the hold lives: done or dead, the hold passes to the ticket's next event; waiting
  // for a retry, it keeps it.
  std::string_view ticket = {};
  std::int64_t hold_ttl_ms = 0;
};

// The one MULTI/EXEC that acknowledges, schedules the retry (due at now + retry_in) or writes the
// dead letter (with `failure`), removes the event from the processing list, and counts it.
Transaction outcome_transaction(const HeldJob& job, const JobOutcome& outcome, std::int64_t attempt,
                                const JobFailure& failure, std::int64_t now_ms);

}  // namespace boardhook::core
