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


// The processing lists each worker's consumers hold, and its heartbeat: what each runs, counted by
// type into `processing_by_type` (a type being run counts even before anything of it was queued).
bool read_workers(RedisConnection& redis, const std::string& prefix, core::QueueStats& stats,
                  std::map<std::string, std::int64_t>& processing_by_type, std::string& error) {
  std::deque<std::string> keys;  // what the commands point at (a deque never moves them)
  std::vector<RedisCommand> reads;
  for (const core::WorkerStats& worker : stats.workers) {
    reads.push_back({"GET", keys.emplace_back(core::heartbeat_key(prefix, worker.id))});
    for (int c = 0; c < (worker.record ? worker.record->consumers : 1); ++c) {
      reads.push_back({"LRANGE", keys.emplace_back(core::processing_key(prefix, core::consumer_id(worker.id, c))), "0", "-1"});
    }
  }
  if (reads.empty()) return true;
  const auto held = checked(redis.transaction_replies(reads, error), error);
  if (!held) return false;
  std::size_t next = 0;
  for (core::WorkerStats& worker : stats.workers) {
    if (const auto beat = (*held)[next++].as_text()) {
      worker.alive = true;
      worker.last_heartbeat_ms = std::strtoll(beat->c_str(), nullptr, 10);
    }
    for (int c = 0; c < (worker.record ? worker.record->consumers : 1); ++c) {
      const std::string consumer = core::consumer_id(worker.id, c);
      for (const std::string& envelope : (*held)[next++].texts()) {
        ++worker.running;
        const auto summary = core::parse_envelope(envelope);
        ++processing_by_type[summary ? summary->event_type : std::string("unknown")];
        if (summary) {
          worker.jobs.push_back({consumer, summary->id, summary->event_type, summary->ticket_id.value_or(""), summary->received_at});
        } else {
          worker.jobs.push_back({consumer, "", "unknown", "", ""});
        }
      }
    }
  }
  return true;
}

// Each type's queue, retry set, dead letters and oldest event, and its running totals.
bool read_types(RedisConnection& redis, const std::string& prefix, const std::set<std::string>& types,
                const std::vector<std::string>& counter_fields, const std::map<std::string, std::int64_t>& processing_by_type,
                core::QueueStats& stats, std::string& error) {
  std::map<std::string, std::map<core::Counter, std::int64_t>> totals_by_key_part;
  for (std::size_t i = 0; i + 1 < counter_fields.size(); i += 2) {
    if (const auto field = core::parse_counter_field(counter_fields[i])) {
      totals_by_key_part[field->type_key_part][field->counter] = std::strtoll(counter_fields[i + 1].c_str(), nullptr, 10);
    }
  }
  std::deque<std::string> keys;
  std::vector<RedisCommand> reads;
  for (const std::string& type : types) {
    const std::string& queue = keys.emplace_back(core::queue_key(prefix, type));
    reads.push_back({"LLEN", queue});
    reads.push_back({"ZCARD", keys.emplace_back(core::retry_key(prefix, type))});
    reads.push_back({"LLEN", keys.emplace_back(core::dead_key(prefix, type))});
    reads.push_back({"LINDEX", queue, "-1"});
  }
  if (reads.empty()) return true;
  const auto counts = checked(redis.transaction_replies(reads, error), error);
  if (!counts) return false;
  std::size_t next = 0;
  for (const std::string& type : types) {
    core::TypeStats& row = stats.types.emplace_back();
    row.type = type;
    row.queued = (*counts)[next++].as_integer().value_or(0);
    row.retry = (*counts)[next++].as_integer().value_or(0);
    row.dead = (*counts)[next++].as_integer().value_or(0);
    row.oldest_age_ms = age_of_envelope((*counts)[next++].as_text(), stats.at_ms);
    const auto processing = processing_by_type.find(type);
    row.processing = processing == processing_by_type.end() ? 0 : processing->second;
    row.totals = totals_by_key_part[core::event_type_key_part(type)];
  }
  return true;
}

}  // namespace

// Three round trips, each one MULTI/EXEC: the names (types, workers, counters), then what each
// worker holds, then the counts of every type named so far.
std::optional<core::QueueStats> collect_queue_stats(RedisConnection& redis, const std::string& prefix,
                                                    const std::string& spool_dir, std::string& error) {
  core::QueueStats stats;
  stats.at_ms = now_ms();
  const std::string types_key = core::event_types_key(prefix), workers_key = core::workers_key(prefix);
  const std::string counters_key = core::counters_key(prefix), rejected_key = core::rejected_key(prefix);
  const std::string paused_key = core::paused_key(prefix);
  const auto names = checked(redis.transaction_replies({{"SMEMBERS", types_key},
                                                        {"HGETALL", workers_key},
                                                        {"HGETALL", counters_key},
                                                        {"LLEN", rejected_key},
                                                        {"SMEMBERS", paused_key}},
                                                       error),
                             error);
  if (!names) return std::nullopt;
  std::set<std::string> types;
  for (std::string& type : (*names)[0].texts()) types.insert(std::move(type));
  const std::vector<std::string> worker_fields = (*names)[1].texts();
  for (std::size_t i = 0; i + 1 < worker_fields.size(); i += 2) {
    stats.workers.push_back({worker_fields[i], core::parse_worker_record(worker_fields[i + 1]), false, std::nullopt, 0, {}});
  }
  std::sort(stats.workers.begin(), stats.workers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  stats.rejected = (*names)[3].as_integer().value_or(0);

  std::map<std::string, std::int64_t> processing_by_type;
  if (!read_workers(redis, prefix, stats, processing_by_type, error)) return std::nullopt;
  for (const auto& [type, count] : processing_by_type) types.insert(type);
  const std::vector<std::string> paused = (*names)[4].texts();
  for (const std::string& type : paused) types.insert(type);
  if (!read_types(redis, prefix, types, (*names)[2].texts(), processing_by_type, stats, error)) return std::nullopt;
  for (core::TypeStats& row : stats.types) row.paused = std::find(paused.begin(), paused.end(), row.type) != paused.end();
  stats.spool = spool_stats(spool_dir, stats.at_ms);
  return stats;
}

}  // namespace boardhook::io
