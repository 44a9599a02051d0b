// queue_stats.cpp -- the queue snapshot: names first, then all counts in one transaction.
#include "io/queue_stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>

#include "core/envelope.hpp"
#include "core/event_type.hpp"
#include "core/rfc3339.hpp"
#include "io/spool.hpp"

namespace boardhook::io {

namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The other half of a failed transaction call: its error reply, or what the connection said.
std::optional<std::vector<RedisValue>> checked(std::optional<std::vector<RedisValue>> replies, std::string& error) {
  if (replies) {
    for (const RedisValue& reply : *replies) {
      if (reply.is_error()) {
        error = reply.text;
        return std::nullopt;
      }
    }
  }
  return replies;
}

std::optional<std::int64_t> age_of_envelope(const std::optional<std::string>& envelope, std::int64_t now) {
  if (!envelope) return std::nullopt;
  const auto summary = core::parse_envelope(*envelope);
  const auto received = summary ? core::parse_rfc3339_ms(summary->received_at) : std::nullopt;
  if (!received) return std::nullopt;
  return now - *received;
}

std::optional<core::SpoolStats> spool_stats(const std::string& dir, std::int64_t now) {
  if (dir.empty() || access(dir.c_str(), R_OK | X_OK) != 0) return std::nullopt;
  const SpoolStatus status = Spool::scan_status(dir);
  core::SpoolStats spool{dir, status.segments, status.records, status.bytes, std::nullopt};
  if (status.oldest_written_at_ms) spool.oldest_age_ms = now - *status.oldest_written_at_ms;
  return spool;
}

}  // namespace

// Three round trips, each one MULTI/EXEC: the names (types, workers, counters), then what each
// worker holds, then the counts of every type named so far (a type being run counts even before
// anything of it was queued).
std::optional<core::QueueStats> collect_queue_stats(RedisConnection& redis, const std::string& prefix,
                                                    const std::string& spool_dir, std::string& error) {
  core::QueueStats stats;
  stats.at_ms = now_ms();
  const std::string types_key = core::event_types_key(prefix), workers_key = core::workers_key(prefix);
  const std::string counters_key = core::counters_key(prefix), rejected_key = core::rejected_key(prefix);
  const auto names = checked(redis.transaction_replies(
      {{"SMEMBERS", types_key}, {"HGETALL", workers_key}, {"HGETALL", counters_key}, {"LLEN", rejected_key}}, error), error);
  if (!names) return std::nullopt;
  std::set<std::string> types;
  for (std::string& type : (*names)[0].texts()) types.insert(std::move(type));
  stats.rejected = (*names)[3].as_integer().value_or(0);

  std::deque<std::string> keys;  // what the commands point at (a deque never moves them)
  std::vector<RedisCommand> reads;
  const std::vector<std::string> worker_fields = (*names)[1].texts();
  for (std::size_t i = 0; i + 1 < worker_fields.size(); i += 2) {
    core::WorkerStats& worker = stats.workers.emplace_back();
    worker.id = worker_fields[i];
    worker.record = core::parse_worker_record(worker_fields[i + 1]);
    reads.push_back({"GET", keys.emplace_back(core::heartbeat_key(prefix, worker.id))});
    for (int c = 0; c < (worker.record ? worker.record->consumers : 1); ++c) {
      reads.push_back({"LRANGE", keys.emplace_back(core::processing_key(prefix, core::consumer_id(worker.id, c))), "0", "-1"});
    }
  }
  std::map<std::string, std::int64_t> processing_by_type;
  if (!reads.empty()) {
    const auto held = checked(redis.transaction_replies(reads, error), error);
    if (!held) return std::nullopt;
    std::size_t next = 0;
    for (core::WorkerStats& worker : stats.workers) {
      if (const auto beat = (*held)[next++].as_text()) {
        worker.alive = true;
        worker.last_heartbeat_ms = std::strtoll(beat->c_str(), nullptr, 10);
      }
      for (int c = 0; c < (worker.record ? worker.record->consumers : 1); ++c) {
        for (const std::string& envelope : (*held)[next++].texts()) {
          ++worker.running;
          const auto summary = core::parse_envelope(envelope);
          const std::string type = summary ? summary->event_type : std::string("unknown");
          ++processing_by_type[type];
          types.insert(type);
        }
      }
    }
  }

  reads.clear();
  for (const std::string& type : types) {
    const std::string& queue = keys.emplace_back(core::queue_key(prefix, type));
    reads.push_back({"LLEN", queue});
    reads.push_back({"ZCARD", keys.emplace_back(core::retry_key(prefix, type))});
    reads.push_back({"LLEN", keys.emplace_back(core::dead_key(prefix, type))});
    reads.push_back({"LINDEX", queue, "-1"});
  }
  std::map<std::string, std::map<core::Counter, std::int64_t>> totals_by_key_part;
  const std::vector<std::string> counter_fields = (*names)[2].texts();
  for (std::size_t i = 0; i + 1 < counter_fields.size(); i += 2) {
    if (const auto field = core::parse_counter_field(counter_fields[i])) {
      totals_by_key_part[field->type_key_part][field->counter] = std::strtoll(counter_fields[i + 1].c_str(), nullptr, 10);
    }
  }
  if (!reads.empty()) {
    const auto counts = checked(redis.transaction_replies(reads, error), error);
    if (!counts) return std::nullopt;
    std::size_t next = 0;
    for (const std::string& type : types) {
      core::TypeStats& row = stats.types.emplace_back();
      row.type = type;
      row.queued = (*counts)[next++].as_integer().value_or(0);
      row.retry = (*counts)[next++].as_integer().value_or(0);
      row.dead = (*counts)[next++].as_integer().value_or(0);
      row.oldest_age_ms = age_of_envelope((*counts)[next++].as_text(), stats.at_ms);
      row.processing = processing_by_type[type];
      row.totals = totals_by_key_part[core::event_type_key_part(type)];
    }
  }
  std::sort(stats.workers.begin(), stats.workers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  stats.spool = spool_stats(spool_dir, stats.at_ms);
  return stats;
}

}  // namespace boardhook::io
