// redis_batcher.hpp -- group commit for Redis: the events of concurrent requests in one MULTI/EXEC.
//
// Every request thread used to run its own MULTI/EXEC on its own connection, and Redis spent
// about 50 µs of CPU per transaction; on a machine it shares with nginx and the handler that
// was the largest single cost of a POST. Here the request threads of a process hand their
// writes to whichever of them is writing at the moment: one thread (the leader) sends every
// write that is waiting as one transaction on the process's one connection, and the writes
// that arrive meanwhile form the next batch, sent by the first of their threads as soon as the
// leader is done.
//
// A lone request is written at once. Under load, batches grow by themselves with the time
// Redis takes to answer, and more with a short wait: a request thread announces its write as
// soon as it starts reading a POST, and a leader that sees announced writes not yet queued
// waits for them, at most BOARDHOOK_REDIS_BATCH_WAIT_US, before it sends. On a machine where
// Redis shares the cores, fewer and larger transactions leave more CPU for everything else.
//
// A batch is one run of the ingest script (core/ingest.hpp: deduplication and the pushes,
// atomic), followed by WAIT when replicas must confirm it. A request is answered only after
// Redis confirmed its group; a failed batch fails each of its requests, which then go to the
// spool one by one.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/writes.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::handler {

class RedisBatcher {
 public:
  // A batch holds at most `max_requests` requests and, unless one request alone is larger,
  // `max_bytes` of envelopes, so that one slow batch cannot hold many answers for long.
  // `on_batch` (may be empty) is told the size of each batch sent.
  // `on_batch` (may be empty) is told the number of requests of each batch sent, and how many of
  // its envelopes the deduplication skipped.
  RedisBatcher(const core::Config& config, std::function<void(std::size_t, std::int64_t)> on_batch = {},
               std::size_t max_requests = 256, std::size_t max_bytes = 8 * 1024 * 1024);

  // A write this thread is about to make (its POST is being read and checked). It ends when
  // the write joins a batch, or when destroyed (the request needed no write).
  class Announcement {
   public:
    Announcement() = default;
    Announcement(Announcement&& other) noexcept : batcher_(std::exchange(other.batcher_, nullptr)) {}
    Announcement& operator=(Announcement&& other) noexcept {
      if (this != &other) {
        end();
        batcher_ = std::exchange(other.batcher_, nullptr);
      }
      return *this;
    }
    ~Announcement() { end(); }
    void end();

   private:
    friend class RedisBatcher;
    explicit Announcement(RedisBatcher* batcher) : batcher_(batcher) {}
    RedisBatcher* batcher_ = nullptr;
  };
  Announcement announce();

  // stored: Redis ran the write (and, with BOARDHOOK_REDIS_MIN_REPLICAS, that many replicas
  // confirmed it); unreplicated: Redis ran it but too few replicas confirmed it in time;
  // failed: it may not have run (`error` says why).
  enum class Outcome { stored, unreplicated, failed };

  // Stores `store`'s events in Redis; blocks until Redis answered. Ends `announcement`. Safe to
  // call from any thread.
  Outcome write(const core::StoreEvents& store, std::string& error, Announcement& announcement);

 private:
  struct Pending {
    const core::StoreEvents* store;
    std::condition_variable woken;
    bool done = false;
    Outcome outcome = Outcome::failed;
    std::string error;
  };

  // Called with the lock held: wakes a waiting leader once nothing more is to be expected.
  void wake_leader_if_complete();
  bool batch_is_complete() const { return announced_ == 0 || waiting_.size() >= max_requests_; }
  // Takes the longest allowed run of waiting writes from the front of the queue.
  std::vector<Pending*> take_batch();
  // Writes `batch` (without the lock) and fills in each one's outcome.
  void write_batch(const std::vector<Pending*>& batch);

  const core::Config& config_;
  const std::chrono::microseconds batch_wait_;
  const std::function<void(std::size_t, std::int64_t)> on_batch_;
  const std::size_t max_requests_;
  const std::size_t max_bytes_;
  io::RedisConnection connection_;  // used by the leader only, so by one thread at a time

  std::mutex mutex_;
  std::vector<Pending*> waiting_;  // in arrival order
  std::size_t announced_ = 0;      // announced writes not yet in waiting_
  bool leader_active_ = false;
  bool leader_waiting_ = false;    // the leader waits for announced writes
  std::condition_variable leader_wake_;
};

}  // namespace boardhook::handler
