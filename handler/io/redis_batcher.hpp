// redis_batcher.hpp -- group commit for Redis: the events of concurrent requests in one MULTI/EXEC.
//
// Every request thread used to run its own MULTI/EXEC on its own connection, and Redis spent
// about 50 µs of CPU per transaction; on a machine it shares with nginx and the handler that
// was the largest single cost of a POST. Here the request threads of a process hand their
// writes to whichever of them is writing at the moment: one thread (the leader) sends every
// write that is waiting as one transaction on the process's one connection, and the writes
// that arrive meanwhile form the next batch, sent by the first of their threads as soon as the
// leader is done. Nothing waits for a batch to fill: a lone request is written at once, and
// under load batches grow by themselves with the time Redis takes to answer.
//
// A request is answered only after EXEC confirmed its group's commands (see
// core::batch_transaction_for), exactly as before; a failed batch fails each of its requests,
// which then go to the spool one by one.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "core/writes.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::io {

class RedisBatcher {
 public:
  // A batch holds at most `max_requests` requests and, unless one request alone is larger,
  // `max_bytes` of envelopes, so that one slow batch cannot hold many answers for long.
  RedisBatcher(const core::RedisEndpoint& endpoint, int timeout_ms, std::size_t max_requests = 256,
               std::size_t max_bytes = 8 * 1024 * 1024);

  // Stores `store`'s events in Redis; blocks until EXEC confirmed them (true) or the write
  // failed (false, `error` says why). Safe to call from any number of threads.
  bool write(const core::StoreEvents& store, std::string& error);

  // How many batches and requests were written (for tests and the benchmark's notes).
  struct Totals {
    std::size_t batches = 0;
    std::size_t requests = 0;
  };
  Totals totals();

 private:
  struct Pending {
    const core::StoreEvents* store;
    std::condition_variable woken;
    bool done = false;
    bool stored = false;
    std::string error;
  };

  // Takes the longest allowed run of waiting writes from the front of the queue.
  std::vector<Pending*> take_batch();
  // Writes `batch` (without the lock) and fills in each one's outcome.
  void write_batch(const std::vector<Pending*>& batch);

  const std::size_t max_requests_;
  const std::size_t max_bytes_;
  redis::Connection connection_;  // used by the leader only, so by one thread at a time

  std::mutex mutex_;
  std::vector<Pending*> waiting_;  // in arrival order
  bool leader_active_ = false;
  Totals totals_;
};

}  // namespace boardhook::io
