// metrics.cpp -- label indexing and Prometheus text rendering.
#include "core/metrics.hpp"

#include <algorithm>
#include <charconv>

#include "core/json_escape.hpp"

namespace boardhook::core {

namespace {

// The shortest text that reads back as the same double ("0.0005", not "0.00050000000000000001").
std::string number(double value) {
  char text[400];  // fixed notation of any double fits
  const auto result = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed);
  return std::string(text, result.ptr);
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// Label values are escaped as the exposition format asks: backslash, quote, newline.
std::string label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < metric_methods.size(); ++i) {
    if (metric_methods[i] == method) return i;
  }
  return metric_methods.size() - 1;
}

std::size_t status_index(int status) {
  for (std::size_t i = 0; i + 1 < metric_statuses.size(); ++i) {
    if (metric_statuses[i] == status) return i;
  }
  return metric_statuses.size() - 1;
}

std::size_t refusal_index(std::string_view code) {
  for (std::size_t i = 0; i + 1 < metric_refusals.size(); ++i) {
    if (metric_refusals[i] == code) return i;
  }
  return metric_refusals.size() - 1;
}

std::size_t latency_bucket(std::uint64_t microseconds) {
  const double seconds = static_cast<double>(microseconds) / 1e6;
  for (std::size_t i = 0; i < redis_latency_bounds.size(); ++i) {
    if (seconds <= redis_latency_bounds[i]) return i;
  }
  return redis_latency_bounds.size();
}

std::string render_metrics(const MetricsSnapshot& s) {
  std::string out;
  out.reserve(4096);
  header(out, "boardhook_requests_total", "counter", "Requests answered by the handler, by method and status.");
  for (std::size_t m = 0; m < metric_methods.size(); ++m) {
    for (std::size_t k = 0; k < metric_statuses.size(); ++k) {
      const std::string status = metric_statuses[k] == 0 ? "other" : std::to_string(metric_statuses[k]);
      out += "boardhook_requests_total{method=\"" + std::string(metric_methods[m]) + "\",status=\"" + status + "\"} " +
             std::to_string(s.requests[m][k]) + "\n";
    }
  }
  header(out, "boardhook_events_stored_total", "counter", "Events answered 200 for (in Redis or in the spool), by event type.");
  auto stored = s.events_stored;
  std::sort(stored.begin(), stored.end());
  for (const auto& [type, count] : stored) {
    out += "boardhook_events_stored_total{event_type=\"" + label_value(type) + "\"} " + std::to_string(count) + "\n";
  }
  header(out, "boardhook_events_spooled_total", "counter", "Events written to the disk spool because Redis could not take them.");
  out += "boardhook_events_spooled_total " + std::to_string(s.events_spooled) + "\n";
  header(out, "boardhook_spool_drained_total", "counter", "Spool records delivered to Redis by this handler.");
  out += "boardhook_spool_drained_total " + std::to_string(s.events_drained) + "\n";
  header(out, "boardhook_redis_write_seconds", "histogram", "Duration of successful MULTI/EXEC writes of events to Redis.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.redis_write_buckets.size(); ++i) {
    cumulative += s.redis_write_buckets[i];
    const std::string bound = i < redis_latency_bounds.size() ? number(redis_latency_bounds[i]) : "+Inf";
    out += "boardhook_redis_write_seconds_bucket{le=\"" + bound + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += "boardhook_redis_write_seconds_sum " + number(static_cast<double>(s.redis_write_microseconds) / 1e6) + "\n";
  out += "boardhook_redis_write_seconds_count " + std::to_string(cumulative) + "\n";
  header(out, "boardhook_redis_write_failures_total", "counter", "Event writes to Redis that failed (the events then went to the spool or got 503).");
  out += "boardhook_redis_write_failures_total " + std::to_string(s.redis_write_failures) + "\n";
  header(out, "boardhook_redis_batches_total", "counter", "Ingest scripts that carried the writes of concurrent POSTs.");
  out += "boardhook_redis_batches_total " + std::to_string(s.redis_batches) + "\n";
  header(out, "boardhook_redis_batched_requests_total", "counter", "POSTs whose writes those transactions carried (their ratio is the mean batch size).");
  out += "boardhook_redis_batched_requests_total " + std::to_string(s.redis_batched_requests) + "\n";
  header(out, "boardhook_duplicates_skipped_total", "counter", "Envelopes not queued again: their id was queued within BOARDHOOK_DEDUP_SECONDS.");
  out += "boardhook_duplicates_skipped_total " + std::to_string(s.duplicates_skipped) + "\n";
  header(out, "boardhook_events_unreplicated_total", "counter", "Events Redis stored but fewer than BOARDHOOK_REDIS_MIN_REPLICAS replicas confirmed in time; they were spooled too.");
  out += "boardhook_events_unreplicated_total " + std::to_string(s.events_unreplicated) + "\n";
  header(out, "boardhook_rejected_total", "counter", "POSTs refused and kept for inspection, by reason.");
  for (std::size_t i = 0; i < metric_refusals.size(); ++i) {
    out += "boardhook_rejected_total{reason=\"" + std::string(metric_refusals[i]) + "\"} " + std::to_string(s.refused[i]) + "\n";
  }
  if (s.spool) {
    header(out, "boardhook_spool_records", "gauge", "Records in the disk spool waiting for Redis.");
    out += "boardhook_spool_records " + std::to_string(s.spool->records) + "\n";
    header(out, "boardhook_spool_bytes", "gauge", "Bytes in the disk spool waiting for Redis.");
    out += "boardhook_spool_bytes " + std::to_string(s.spool->bytes) + "\n";
    header(out, "boardhook_spool_oldest_age_seconds", "gauge", "Age of the oldest record in the disk spool (0 when empty).");
    out += "boardhook_spool_oldest_age_seconds " + number(s.spool->oldest_age_seconds) + "\n";
  }
  header(out, "boardhook_handler_processes", "gauge", "Handler processes sharing these metrics.");
  out += "boardhook_handler_processes " + std::to_string(s.processes) + "\n";
  header(out, "process_start_time_seconds", "gauge", "Start time of the handler since the Unix epoch, in seconds.");
  out += "process_start_time_seconds " + number(s.process_start_time_seconds) + "\n";
  return out;
}

namespace {

void per_type(std::string& out, const QueueStats& stats, std::string_view name, std::string_view type, std::string_view help,
              std::int64_t (*value)(const TypeStats&)) {
  header(out, name, type, help);
  for (const TypeStats& row : stats.types) {
    out.append(name).append("{type=\"").append(label_value(row.type)).append("\"} ").append(std::to_string(value(row))).append("\n");
  }
}

std::int64_t total_of(const TypeStats& row, Counter counter) {
  const auto found = row.totals.find(counter);
  return found == row.totals.end() ? 0 : found->second;
}

}  // namespace

std::string render_queue_metrics(const QueueStats* stats) {
  std::string out;
  header(out, "boardhook_queue_redis_up", "gauge", "1 when the queues could be read from Redis for this scrape.");
  out += stats ? "boardhook_queue_redis_up 1\n" : "boardhook_queue_redis_up 0\n";
  if (stats == nullptr) return out;
  per_type(out, *stats, "boardhook_queue_depth", "gauge", "Events waiting in the queue.", [](const TypeStats& r) { return r.queued; });
  header(out, "boardhook_queue_oldest_age_seconds", "gauge", "Age of the oldest waiting event (absent when none waits).");
  for (const TypeStats& row : stats->types) {
    if (!row.oldest_age_ms) continue;
    out.append("boardhook_queue_oldest_age_seconds{type=\"").append(label_value(row.type)).append("\"} ");
    out.append(number(static_cast<double>(*row.oldest_age_ms) / 1000.0)).append("\n");
  }
  per_type(out, *stats, "boardhook_retry_depth", "gauge", "Events waiting for a retry.", [](const TypeStats& r) { return r.retry; });
  per_type(out, *stats, "boardhook_processing", "gauge", "Events a worker is running.", [](const TypeStats& r) { return r.processing; });
  per_type(out, *stats, "boardhook_dead_letters", "gauge", "Dead letters kept.", [](const TypeStats& r) { return r.dead; });
  per_type(out, *stats, "boardhook_events_queued_total", "counter", "Events queued, by every handler.",
           [](const TypeStats& r) { return total_of(r, Counter::queued); });
  per_type(out, *stats, "boardhook_events_done_total", "counter", "Events workers finished.",
           [](const TypeStats& r) { return total_of(r, Counter::done); });
  per_type(out, *stats, "boardhook_events_retried_total", "counter", "Failed runs scheduled for a retry.",
           [](const TypeStats& r) { return total_of(r, Counter::retried); });
  per_type(out, *stats, "boardhook_events_dead_total", "counter", "Events that became dead letters.",
           [](const TypeStats& r) { return total_of(r, Counter::dead); });
  std::int64_t alive = 0;
  for (const WorkerStats& worker : stats->workers) alive += worker.alive ? 1 : 0;
  header(out, "boardhook_workers_alive", "gauge", "Workers whose heartbeat is current.");
  out += "boardhook_workers_alive " + std::to_string(alive) + "\n";
  header(out, "boardhook_workers_serving", "gauge", "Live workers that take events of the type.");
  for (const TypeStats& row : stats->types) {
    std::int64_t serving = 0;
    for (const WorkerStats& worker : stats->workers) {
      if (worker.alive && worker.record &&
          std::find(worker.record->types.begin(), worker.record->types.end(), row.type) != worker.record->types.end()) {
        ++serving;
      }
    }
    out.append("boardhook_workers_serving{type=\"").append(label_value(row.type)).append("\"} ").append(std::to_string(serving)).append("\n");
  }
  per_type(out, *stats, "boardhook_type_paused", "gauge", "1 while the type is paused (boardhook-queues pause).",
           [](const TypeStats& r) -> std::int64_t { return r.paused ? 1 : 0; });
  header(out, "boardhook_circuit_open", "gauge", "Workers whose circuit for the type's destination is open or half-open.");
  for (const TypeStats& row : stats->types) {
    std::int64_t open = 0;
    for (const WorkerStats& worker : stats->workers) {
      if (worker.alive && worker.record && worker.record->circuits.count(row.type) > 0) ++open;
    }
    out.append("boardhook_circuit_open{type=\"").append(label_value(row.type)).append("\"} ").append(std::to_string(open)).append("\n");
  }
  header(out, "boardhook_rejected_kept", "gauge", "Refused requests kept in <prefix>:rejected.");
  out += "boardhook_rejected_kept " + std::to_string(stats->rejected) + "\n";
  return out;
}

}  // namespace boardhook::core
