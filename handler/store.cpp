// store.cpp -- Redis-or-spool writes, and the drainer thread that empties the spool.
#include "handler/store.hpp"

#include <spdlog/spdlog.h>

#include "core/ingest.hpp"
#include "core/keys.hpp"
#include "io/ingest.hpp"
#include "io/log.hpp"

namespace boardhook::handler {

namespace {

// How often the drainer looks at the spool when nothing wakes it.
constexpr std::chrono::seconds drain_interval{1};

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string describe_status(const io::SpoolStatus& status) {
  std::string text = std::to_string(status.records) + " record(s), " + std::to_string(status.bytes) + " bytes in " +
                     std::to_string(status.segments) + " segment(s)";
  if (status.oldest_written_at_ms) text += ", oldest " + std::to_string((now_ms() - *status.oldest_written_at_ms) / 1000) + " s";
  return text;
}

// The events of consecutive spool records, in one ingest script.
bool deliver_spooled_events(io::RedisConnection& redis, const core::Config& config,
                            std::span<const core::StoreEvents> stores, std::string& error, std::int64_t* duplicates) {
  std::vector<const core::StoreEvents*> pointers;
  pointers.reserve(stores.size());
  for (const core::StoreEvents& store : stores) pointers.push_back(&store);
  // Through the ingest script, so that what was queued before (a batch spooled when its WAIT
  // came up short, a drain cut off before its progress note) is not queued twice; and only
  // delivered once replicated, or the segment would be deleted while the events live in one
  // Redis process alone.
  const auto command =
      core::ingest_command_for(pointers, core::ingest_options(config.queue_prefix, config.dedup_seconds, config.archive_seconds));
  const auto result = io::run_ingest(redis, command, config.redis_min_replicas, config.redis_wait_timeout_ms, error);
  if (!result) return false;
  std::int64_t skipped = 0;
  for (const auto& group : result->groups) {
    if (!group.stored) {
      error = group.error;
      return false;
    }
    skipped += group.duplicates;
  }
  if (!result->replicated) {
    error = "only " + std::to_string(result->replicas) + " replica(s) confirmed the write in time";
    return false;
  }
  // Counted once delivered: an attempt that failed is made again and would count them twice.
  if (duplicates != nullptr) *duplicates += skipped;
  return true;
}

}  // namespace

bool deliver_spool_records(io::RedisConnection& redis, const core::Config& config, std::span<const core::SpoolRecord> records,
                           std::string& error, std::int64_t* duplicates) {
  std::vector<core::StoreEvents> events;  // the run of event records not yet sent
  const auto send_events = [&] {
    if (events.empty()) return true;
    const bool sent = deliver_spooled_events(redis, config, events, error, duplicates);
    events.clear();
    return sent;
  };
  for (const core::SpoolRecord& record : records) {
    if (auto store = core::store_events_from(record)) {
      events.push_back(std::move(*store));
      continue;
    }
    // Anything else goes in order: the events before it first.
    if (!send_events()) return false;
    if (const auto reject = core::keep_rejected_from(record)) {
      if (!redis.run_transaction(core::transaction_for(*reject).commands, error)) return false;
      continue;
    }
    // A record with a valid checksum but a shape we do not know: keep it for a newer build.
    error = "spool record of unknown kind " + std::to_string(static_cast<int>(record.kind));
    return false;
  }
  return send_events();
}

EventStore::EventStore(const core::Config& config, io::Spool* spool, std::function<void(std::size_t, std::int64_t)> on_drained,
                       std::function<void(std::size_t, std::int64_t)> on_batch)
    : config_(config),
      spool_(spool),
      batcher_(config, std::move(on_batch)),
      on_drained_(std::move(on_drained)) {}

EventStore::~EventStore() { stop_drainer(); }

StoreOutcome EventStore::store_events(const core::StoreEvents& store, std::int64_t now, std::string& error,
                                      RedisBatcher::Announcement& announcement) {
  static io::LogThrottle redis_failure_throttle;
  // While older events wait in the spool, newer ones queue up behind them there.
  const bool behind_backlog = spool_ != nullptr && spool_->has_backlog();
  bool unreplicated = false;
  if (!behind_backlog) {
    const RedisBatcher::Outcome outcome = batcher_.write(store, error, announcement);
    if (outcome == RedisBatcher::Outcome::stored) return StoreOutcome::in_redis;
    // In one Redis process only: on disk too before the 200, so it survives that process's host.
    unreplicated = outcome == RedisBatcher::Outcome::unreplicated;
    if (unreplicated) error = "too few replicas confirmed the write";
    if (!unreplicated && (redis_failure_throttle.should_log(std::chrono::seconds(10)) || spool_ == nullptr)) {
      spdlog::error("redis write failed: \"{}\"; {}", error, spool_ ? "spooling to disk" : "no spool configured");
    }
  }
  announcement.end();
  if (spool_ == nullptr) return StoreOutcome::failed;
  std::string spool_error;
  if (spool_->append(core::to_spool_record(store, now), spool_error)) {
    if (unreplicated) return StoreOutcome::unreplicated_spooled;
    return behind_backlog ? StoreOutcome::spooled_behind_backlog : StoreOutcome::spooled;
  }
  error = (behind_backlog ? std::string() : "redis: " + error + "; ") + "spool: " + spool_error;
  return StoreOutcome::failed;
}

void EventStore::keep_rejected(io::RedisConnection& redis, const core::KeepRejected& reject, std::int64_t now,
                               std::string_view request_id) {
  std::string error;
  if (!(spool_ != nullptr && spool_->has_backlog()) && redis.run_transaction(core::transaction_for(reject).commands, error)) return;
  std::string spool_error = "no spool configured";
  if (spool_ != nullptr && spool_->append(core::to_spool_record(reject, now), spool_error)) return;
  spdlog::error("the refused body of request {} is not kept: redis: \"{}\"; spool: \"{}\"", request_id, error, spool_error);
}

io::DrainResult drain_once(io::Spool& spool, io::RedisConnection& redis, const core::Config& config,
                           std::int64_t* duplicates) {
  std::int64_t skipped = 0;
  io::DrainResult result = spool.drain([&](std::span<const core::SpoolRecord> records, std::string& error) {
    return deliver_spool_records(redis, config, records, error, &skipped);
  });
  if (result.delivered > 0 || result.torn > 0) {
    spdlog::info("spool drain: {} record(s) delivered to Redis ({} envelope(s) queued already, skipped), {} torn or "
                 "corrupt stretch(es) skipped{}", result.delivered, skipped, result.torn, result.complete ? "; spool empty" : "");
  }
  if (duplicates != nullptr) *duplicates += skipped;
  return result;
}

void EventStore::start_drainer() {
  if (spool_ == nullptr) return;
  drainer_ = std::thread([this] { drain_loop(); });
}

void EventStore::stop_drainer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (drainer_.joinable()) drainer_.join();
}

void EventStore::drain_loop() {
  io::RedisConnection redis(config_.redis, config_.redis_timeout_ms);
  io::LogThrottle unreachable_throttle;
  std::size_t last_logged_records = 0;
  bool progressing = false;  // the last pass delivered and left more: go on at once
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (!progressing) wake_.wait_for(lock, drain_interval, [this] { return stopping_; });
      if (stopping_) return;
    }
    progressing = false;
    if (!spool_->has_backlog()) continue;
    // Sealing a segment per pass while Redis is away would only make files; look first.
    std::string error;
    if (!redis.ping(error)) {
      if (unreachable_throttle.should_log(std::chrono::minutes(1))) {
        spdlog::error("spool drain waiting: Redis unavailable: \"{}\"; events stay on disk", error);
      }
    } else {
      std::int64_t duplicates = 0;
      const io::DrainResult result = drain_once(*spool_, redis, config_, &duplicates);
      if (on_drained_ && result.delivered > 0) on_drained_(result.delivered, duplicates);
      // Under load, requests keep arriving behind the backlog: a second's pause between passes
      // let it grow faster than it drained.
      progressing = result.delivered > 0 && !result.complete;
      if (!result.complete && !result.error.empty() && unreachable_throttle.should_log(std::chrono::minutes(1))) {
        spdlog::error("spool drain stopped: \"{}\"; retrying every {} s", result.error, drain_interval.count());
      }
    }
    const io::SpoolStatus status = io::Spool::scan_status(spool_->directory());
    if (status.records != last_logged_records) {
      spdlog::info("spool depth: {}", describe_status(status));
      last_logged_records = status.records;
    }
  }
}

}  // namespace boardhook::handler
