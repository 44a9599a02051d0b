// metrics_registry.cpp -- lock-free counters in an anonymous shared mapping.
#include "handler/metrics_registry.hpp"

#include <sys/mman.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace boardhook::handler {

MetricsRegistry& MetricsRegistry::create(double process_start_time_seconds) {
  void* memory = mmap(nullptr, sizeof(MetricsRegistry), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error(std::string("cannot map shared memory for metrics: ") + std::strerror(errno));
  std::memset(memory, 0, sizeof(MetricsRegistry));  // every atomic starts at zero
  auto* registry = new (memory) MetricsRegistry();
  registry->start_time_ = process_start_time_seconds;
  return *registry;  // lives as long as the processes: never unmapped
}

void MetricsRegistry::record_request(std::string_view method, int status) {
  requests_[core::method_index(method)][core::status_index(status)].fetch_add(1, std::memory_order_relaxed);
}

void MetricsRegistry::record_stored(std::string_view event_type, std::uint64_t events) {
  events_stored_.add(event_type, events);
}

void MetricsRegistry::record_spooled(std::uint64_t events) { spooled_.fetch_add(events, std::memory_order_relaxed); }
void MetricsRegistry::record_drained(std::uint64_t records, std::int64_t duplicates_skipped) {
  drained_.fetch_add(records, std::memory_order_relaxed);
  duplicates_skipped_.fetch_add(static_cast<std::uint64_t>(duplicates_skipped), std::memory_order_relaxed);
}
void MetricsRegistry::record_redis_failure() { redis_failures_.fetch_add(1, std::memory_order_relaxed); }
void MetricsRegistry::record_redis_batch(std::uint64_t requests, std::int64_t duplicates_skipped) {
  redis_batches_.fetch_add(1, std::memory_order_relaxed);
  redis_batched_requests_.fetch_add(requests, std::memory_order_relaxed);
  duplicates_skipped_.fetch_add(static_cast<std::uint64_t>(duplicates_skipped), std::memory_order_relaxed);
}
void MetricsRegistry::record_unreplicated(std::uint64_t events) {
  unreplicated_.fetch_add(events, std::memory_order_relaxed);
}
void MetricsRegistry::set_processes(std::uint64_t processes) { processes_.store(processes); }

void MetricsRegistry::record_redis_write(std::uint64_t microseconds) {
  latency_buckets_[core::latency_bucket(microseconds)].fetch_add(1, std::memory_order_relaxed);
  latency_microseconds_.fetch_add(microseconds, std::memory_order_relaxed);
}

void MetricsRegistry::record_refusal(std::string_view code) {
  refused_[core::refusal_index(code)].fetch_add(1, std::memory_order_relaxed);
}

core::MetricsSnapshot MetricsRegistry::snapshot() const {
  core::MetricsSnapshot s;
  s.process_start_time_seconds = start_time_;
  s.processes = processes_.load();
  for (std::size_t m = 0; m < core::metric_methods.size(); ++m) {
    for (std::size_t k = 0; k < core::metric_statuses.size(); ++k) s.requests[m][k] = requests_[m][k].load();
  }
  s.events_stored = events_stored_.snapshot();
  s.events_spooled = spooled_.load();
  s.events_drained = drained_.load();
  for (std::size_t i = 0; i < s.redis_write_buckets.size(); ++i) s.redis_write_buckets[i] = latency_buckets_[i].load();
  s.redis_write_microseconds = latency_microseconds_.load();
  s.redis_write_failures = redis_failures_.load();
  s.redis_batches = redis_batches_.load();
  s.redis_batched_requests = redis_batched_requests_.load();
  s.duplicates_skipped = duplicates_skipped_.load();
  s.events_unreplicated = unreplicated_.load();
  for (std::size_t i = 0; i < core::metric_refusals.size(); ++i) s.refused[i] = refused_[i].load();
  return s;
}

}  // namespace boardhook::handler
