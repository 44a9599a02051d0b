// queue_stats.cpp -- the queue snapshot as JSON, and rates between snapshots.
#include "core/queue_stats.hpp"

#include <boost/json.hpp>

#include "core/rfc3339.hpp"

namespace boardhook::core {

namespace json = boost::json;

namespace {

json::value optional_number(const std::optional<std::int64_t>& value) {
  return value ? json::value(*value) : json::value(nullptr);
}

const TypeStats* find_type(const QueueStats& stats, const std::string& type) {
  for (const TypeStats& row : stats.types) {
    if (row.type == type) return &row;
  }
  return nullptr;
}

std::int64_t total_of(const TypeStats* row, Counter counter) {
  if (row == nullptr) return 0;
  const auto found = row->totals.find(counter);
  return found == row->totals.end() ? 0 : found->second;
}

json::object worker_json(const WorkerStats& worker) {
  json::object out;
  if (worker.record) {
    out["host"] = worker.record->host;
    out["pid"] = worker.record->pid;
    out["consumers"] = worker.record->consumers;
    out["started_at"] = worker.record->started_at;
    json::array types;
    for (const std::string& type : worker.record->types) types.emplace_back(type);
    out["types"] = std::move(types);
    json::object circuits;
    for (const auto& [type, state] : worker.record->circuits) circuits[type] = state;
    out["circuits"] = std::move(circuits);
  }
  out["id"] = worker.id;
  out["alive"] = worker.alive;
  out["last_heartbeat_ms"] = optional_number(worker.last_heartbeat_ms);
  out["running"] = worker.running;
  json::array jobs;
  for (const RunningJob& job : worker.jobs) {
    jobs.emplace_back(json::object{{"consumer", job.consumer}, {"event_id", job.event_id}, {"event_type", job.event_type},
                                   {"ticket_id", job.ticket_id}, {"received_at", job.received_at}});
  }
  out["jobs"] = std::move(jobs);
  return out;
}

}  // namespace

double rate_per_second(const QueueStats& now, const QueueStats& before, const std::string& type, Counter counter) {
  const double seconds = static_cast<double>(now.at_ms - before.at_ms) / 1000.0;
  if (seconds <= 0) return 0;
  return static_cast<double>(total_of(find_type(now, type), counter) - total_of(find_type(before, type), counter)) / seconds;
}

json::object to_json(const QueueStats& stats, const QueueStats* previous) {
  json::object out;
  out["at"] = format_rfc3339_ms(stats.at_ms);
  out["at_ms"] = stats.at_ms;
  json::array types;
  for (const TypeStats& row : stats.types) {
    json::object type;
    type["type"] = row.type;
    type["queued"] = row.queued;
    type["processing"] = row.processing;
    type["retry"] = row.retry;
    type["dead"] = row.dead;
    type["oldest_age_ms"] = optional_number(row.oldest_age_ms);
    type["paused"] = row.paused;
    json::object totals, rates;
    for (const Counter counter : all_counters) {
      totals[counter_name(counter)] = total_of(&row, counter);
      if (previous) rates[counter_name(counter)] = rate_per_second(stats, *previous, row.type, counter);
    }
    type["totals"] = std::move(totals);
    if (previous) type["per_second"] = std::move(rates);
    types.emplace_back(std::move(type));
  }
  out["types"] = std::move(types);
  json::array workers;
  for (const WorkerStats& worker : stats.workers) workers.emplace_back(worker_json(worker));
  out["workers"] = std::move(workers);
  out["rejected"] = stats.rejected;
  if (stats.spool) {
    json::object spool;
    spool["dir"] = stats.spool->dir;
    spool["segments"] = stats.spool->segments;
    spool["records"] = stats.spool->records;
    spool["bytes"] = stats.spool->bytes;
    spool["oldest_age_ms"] = optional_number(stats.spool->oldest_age_ms);
    out["spool"] = std::move(spool);
  } else {
    out["spool"] = nullptr;
  }
  return out;
}

}  // namespace boardhook::core
