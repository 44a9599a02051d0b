// metrics.hpp -- what /metrics reports, as plain values, and its Prometheus text rendering.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/queue_stats.hpp"

namespace boardhook::core {

// Fixed label sets keep the metrics in fixed-size shared memory (one table for all processes).
inline constexpr std::array<std::string_view, 3> metric_methods = {"GET", "POST", "other"};
inline constexpr std::array<int, 10> metric_statuses = {200, 400, 403, 404, 405, 413, 429, 500, 503, 0};  // 0: other
inline constexpr std::array<std::string_view, 12> metric_refusals = {
    "empty_body",       "invalid_encoding",     "invalid_json",         "invalid_envelope",
    "too_many_events",  "incomplete_body",      "body_too_large",       "missing_endpoint_key",
    "invalid_endpoint_key", "community_not_allowed", "duplicate_parameter", "other"};
// Upper bounds (seconds) of the Redis write latency histogram's buckets; +Inf is implied.
inline constexpr std::array<double, 12> redis_latency_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

std::size_t method_index(std::string_view method);
std::size_t status_index(int status);
std::size_t refusal_index(std::string_view code);
std::size_t latency_bucket(std::uint64_t microseconds);  // redis_latency_bounds.size() = +Inf

struct SpoolGauge {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  double oldest_age_seconds = 0;
};

struct MetricsSnapshot {
  double process_start_time_seconds = 0;
  std::uint64_t processes = 1;
  std::array<std::array<std::uint64_t, metric_statuses.size()>, metric_methods.size()> requests{};
  std::vector<std::pair<std::string, std::uint64_t>> events_stored;  // by event type
  std::uint64_t events_spooled = 0;
  std::uint64_t events_drained = 0;
  std::array<std::uint64_t, redis_latency_bounds.size() + 1> redis_write_buckets{};  // not cumulative
  std::uint64_t redis_write_microseconds = 0;
  std::uint64_t redis_write_failures = 0;
  std::uint64_t redis_batches = 0;           // MULTI/EXEC transactions of request writes
  std::uint64_t redis_batched_requests = 0;  // requests they carried (mean batch = this / batches)
  std::uint64_t duplicates_skipped = 0;      // envelopes not queued again within the dedup window
  std::uint64_t events_unreplicated = 0;     // events stored with fewer replicas than asked, and spooled too
  std::array<std::uint64_t, metric_refusals.size()> refused{};
  std::optional<SpoolGauge> spool;  // none when no spool is configured
};

// Prometheus text exposition format 0.0.4.
std::string render_metrics(const MetricsSnapshot& snapshot);

// /metrics/queues: what waits in Redis, from one queue snapshot (nullptr: Redis did not answer,
// and only boardhook_queue_redis_up 0 is written). Every handler process on every host reports
// the same numbers: they are Redis's, not the process's.
std::string render_queue_metrics(const QueueStats* stats);

}  // namespace boardhook::core
