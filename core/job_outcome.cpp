// job_outcome.cpp -- the worker's decisions about one event, and the transaction that records them.
#include "core/job_outcome.hpp"

#include <algorithm>

#include "core/ticket_order.hpp"
#include "core/worker_plan.hpp"

namespace boardhook::core {

// Per queued copy, not per content id: two deliveries of one event (each queued when the
// deduplication is off or its window passed) each get their own attempts.
std::string attempts_field(const EnvelopeSummary& summary) {
  return summary.id + ":" + summary.delivery + ":" + std::to_string(summary.index);
}

std::optional<std::string> reason_not_to_run(bool is_envelope, std::int64_t attempt, std::int64_t max_attempts) {
  if (!is_envelope) return "not a boardhook envelope";
  if (attempt > max_attempts) {
    return "not run again: " + std::to_string(attempt - 1) + " earlier attempt(s) ended without a result";
  }
  return std::nullopt;
}

JobOutcome decide_after_job(const RunReport& report, bool is_envelope, std::int64_t attempt, const RetryPolicy& policy,
                            double random_fraction) {
  using std::chrono::milliseconds;
  if (report.verdict == DeliveryVerdict::acknowledge) return {Verdict::acknowledge, milliseconds(0), Counter::done};
  if (is_envelope && report.spare_attempt) return {Verdict::give_back, milliseconds(0), Counter::retried};
  if (!is_envelope || report.verdict == DeliveryVerdict::dead || attempt >= policy.max_attempts) {
    return {Verdict::dead, milliseconds(0), Counter::dead};
  }
  // A delay the destination asked for is kept (up to a day), however short the back-off.
  const milliseconds asked = std::min(report.retry_after.value_or(milliseconds(0)), milliseconds(86'400'000));
  return {Verdict::retry, std::max(asked, retry_delay(attempt, policy.backoff_base, policy.backoff_max, random_fraction)),
          Counter::retried};
}

Transaction outcome_transaction(const HeldJob& job, const JobOutcome& outcome, std::int64_t attempt,
                                const JobFailure& failure, std::int64_t now_ms) {
  Transaction t;
  const auto own = [&t](std::string text) -> std::string_view { return t.owned.emplace_back(std::move(text)); };
  if (!job.ticket.empty()) {
    const std::string_view hold = own(ticket_hold_key(job.prefix, job.event_type, job.ticket));
    const std::string_view ttl = own(std::to_string(job.hold_ttl_ms));
    if (outcome.verdict == Verdict::acknowledge || outcome.verdict == Verdict::dead) {
      t.commands.push_back({"EVAL", release_script, "4", hold, own(held_key(job.prefix, job.event_type, job.ticket)),
                            own(queue_key(job.prefix, job.event_type)), own(held_tickets_key(job.prefix, job.event_type)),
                            job.envelope, job.ticket, ttl});
    } else if (outcome.verdict == Verdict::retry) {
      t.commands.push_back({"PEXPIRE", hold, ttl});
    }
  }
  t.commands.push_back({"LREM", job.processing, "1", job.envelope});
  const std::string_view attempts = own(attempts_key(job.prefix, job.event_type));
  switch (outcome.verdict) {
    case Verdict::acknowledge:
      if (!job.attempts_field.empty()) t.commands.push_back({"HDEL", attempts, job.attempts_field});
      break;
    case Verdict::dead:
      t.commands.push_back({"LPUSH", own(dead_key(job.prefix, job.event_type)),
                            own(make_dead_record(job.envelope, failure, attempt, job.consumer, now_ms))});
      if (!job.attempts_field.empty()) t.commands.push_back({"HDEL", attempts, job.attempts_field});
      break;
    case Verdict::retry:
      t.commands.push_back({"ZADD", own(retry_key(job.prefix, job.event_type)), own(std::to_string(now_ms + outcome.retry_in.count())),
                            job.envelope});
      break;
    case Verdict::give_back:
      t.commands.push_back({"RPUSH", own(queue_key(job.prefix, job.event_type)), job.envelope});
      if (!job.attempts_field.empty()) t.commands.push_back({"HINCRBY", attempts, job.attempts_field, "-1"});
      return t;  // nothing happened to count
  }
  t.commands.push_back({"HINCRBY", own(counters_key(job.prefix)), own(counter_field(outcome.counter, job.event_type)), "1"});
  return t;
}

}  // namespace boardhook::core
