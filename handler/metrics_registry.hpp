// metrics_registry.hpp -- counters for /metrics in one shared memory block, so every handler
// process started by --processes adds to, and reports, the same numbers.
#pragma once
#include <atomic>
#include <cstdint>
#include <string_view>

#include "core/event_type.hpp"
#include "core/event_type_counters.hpp"
#include "core/metrics.hpp"

namespace boardhook::handler {

class MetricsRegistry {
 public:
  // Maps the block (MAP_SHARED | MAP_ANONYMOUS): create it before forking the processes.
  static MetricsRegistry& create(double process_start_time_seconds);

  void record_request(std::string_view method, int status);
  void record_stored(std::string_view event_type, std::uint64_t events);
  void record_spooled(std::uint64_t events);
  void record_drained(std::uint64_t records, std::int64_t duplicates_skipped);
  void record_redis_write(std::uint64_t microseconds);
  void record_redis_failure();
  void record_redis_batch(std::uint64_t requests, std::int64_t duplicates_skipped);
  void record_unreplicated(std::uint64_t events);
  void record_refusal(std::string_view code);
  void set_processes(std::uint64_t processes);

  // Copies the counters; the spool gauge is the caller's to fill.
  core::MetricsSnapshot snapshot() const;

 private:
  MetricsRegistry() = default;

  double start_time_ = 0;
  std::atomic<std::uint64_t> processes_{1};
  std::atomic<std::uint64_t> requests_[core::metric_methods.size()][core::metric_statuses.size()];
  // 64 distinct event types counted by name, the rest as "(other)".
  core::EventTypeCounters<64, core::max_event_type_bytes> events_stored_;
  std::atomic<std::uint64_t> spooled_{0};
  std::atomic<std::uint64_t> drained_{0};
  std::atomic<std::uint64_t> latency_buckets_[core::redis_latency_bounds.size() + 1];
  std::atomic<std::uint64_t> latency_microseconds_{0};
  std::atomic<std::uint64_t> redis_failures_{0};
  std::atomic<std::uint64_t> redis_batches_{0};
  std::atomic<std::uint64_t> redis_batched_requests_{0};
  std::atomic<std::uint64_t> duplicates_skipped_{0};
  std::atomic<std::uint64_t> unreplicated_{0};
  std::atomic<std::uint64_t> refused_[core::metric_refusals.size()];
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared-memory counters need lock-free atomics");

}  // namespace boardhook::handler
