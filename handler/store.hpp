// store.hpp -- carries out a decision's writes: Redis first, the disk spool when Redis fails.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "core/config.hpp"
#include "core/writes.hpp"
#include "handler/redis_batcher.hpp"
#include "io/redis_connection.hpp"
#include "io/spool.hpp"

namespace boardhook::handler {

// in_redis: in Redis (replicated as asked); spooled: on disk (Redis unavailable); spooled_behind_backlog:
// on disk because older events still wait in the spool (Redis was not tried); unreplicated_spooled:
// in one Redis process and on disk; failed: neither.
enum class StoreOutcome { in_redis, spooled, spooled_behind_backlog, unreplicated_spooled, failed };

// Delivers consecutive spool records to Redis in their order, the events of adjacent event
// records in one ingest script; the Deliver function of drain passes. Once all are delivered,
// adds to `duplicates` (when given) the envelopes the ingest script skipped as queued already.
bool deliver_spool_records(io::RedisConnection& redis, const core::Config& config, std::span<const core::SpoolRecord> records,
                           std::string& error, std::int64_t* duplicates = nullptr);

class EventStore {
 public:
  // `spool` may be null: then a Redis failure is simply a failure. `on_drained` (may be
  // empty) is told how many spool records each drain pass delivered and how many of their
  // envelopes deduplication skipped, `on_batch` (may be empty) how many requests each Redis
  // batch carried and the envelopes it skipped.
  EventStore(const core::Config& config, io::Spool* spool, std::function<void(std::size_t, std::int64_t)> on_drained = {},
             std::function<void(std::size_t, std::int64_t)> on_batch = {});
  ~EventStore();

  // Stores the events durably: in Redis (batched with other threads' writes, see
  // RedisBatcher), or (while the spool has a backlog, or when Redis fails) fsync'd in the
  // spool. `failed` means neither; the caller answers 503.
  // `announcement` (from announce_write, taken when the request began) ends here.
  StoreOutcome store_events(const core::StoreEvents& store, std::int64_t now_ms, std::string& error,
                            RedisBatcher::Announcement& announcement);
  // Says a write is probably coming from this thread, so that a batch may wait for it.
  RedisBatcher::Announcement announce_write() { return batcher_.announce(); }
  // Keeps a refused body in the rejected list (or the spool); failures are only logged.
  void keep_rejected(io::RedisConnection& redis, const core::KeepRejected& reject, std::int64_t now_ms,
                     std::string_view request_id);

  // Starts the background thread that drains the spool into Redis.
  void start_drainer();
  void stop_drainer();

 private:
  void drain_loop();

  const core::Config& config_;
  io::Spool* spool_;
  RedisBatcher batcher_;
  std::function<void(std::size_t, std::int64_t)> on_drained_;
  std::thread drainer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// One drain pass with its own connection, logging what it did; returns the result, and adds to
// `duplicates` (when given) the envelopes of delivered records that deduplication skipped.
io::DrainResult drain_once(io::Spool& spool, io::RedisConnection& redis, const core::Config& config,
                           std::int64_t* duplicates = nullptr);

}  // namespace boardhook::handler
