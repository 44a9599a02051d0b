// worker.hpp -- boardhook-worker's consumers, heartbeat and housekeeping over the Redis queues.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "core/envelope.hpp"
#include "core/job_outcome.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::worker {

struct WorkerOptions {
  std::map<std::string, std::string> routes;  // event type -> shell command
  int concurrency = 1;
  std::chrono::milliseconds timeout{60'000};
  core::RetryPolicy retry;
  std::chrono::milliseconds heartbeat_timeout{30'000};
};

class Worker {
 public:
  Worker(const core::Config& config, WorkerOptions options);
  ~Worker();

  void start();
  // Stops taking new events; running jobs finish (or time out). Returns at once.
  void request_stop();
  // Waits for every consumer to finish, then deregisters. True when every taken job was
  // acknowledged (a job whose ack could not reach Redis stays for a peer to reclaim).
  bool wait();

  const std::string& id() const { return id_; }

 private:
  // One consumer's connection, processing list and back-off between Redis failures.
  struct Consumer {
    std::string id;
    std::string processing;
    io::RedisConnection redis;
    std::mt19937_64 random;
    std::chrono::milliseconds backoff{100};
    std::size_t rotation = 0;
    int unsettled = 0;            // jobs taken and not yet acknowledged, retried or given back
    bool check_leftovers = true;  // at the start, and after Redis failed
  };
  struct Taken {
    std::string type;
    std::string envelope;
  };

  void consume(int index);
  std::optional<Taken> take(Consumer& consumer, bool& redis_failed, std::string& error);
  void give_back(Consumer& consumer, const Taken& taken);
  std::optional<std::size_t> return_leftovers(Consumer& consumer);
  std::int64_t count_attempt(Consumer& consumer, const Taken& taken, const std::string& attempts_field);
  void settle(Consumer& consumer, const Taken& taken, const std::optional<core::EnvelopeSummary>& summary,
              std::int64_t attempt, bool succeeded, const core::JobFailure& failure);
  void redis_failed(Consumer& consumer, const std::string& error);
  void housekeeping();
  void reclaim_dead_peers(io::RedisConnection& redis);
  bool sleep_unless_stopping(std::chrono::milliseconds duration);

  const core::Config& config_;
  WorkerOptions options_;
  std::string id_;  // core::make_worker_id
  std::vector<std::string> types_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> housekeeping_done_{false};
  std::atomic<int> unacknowledged_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> consumers_;
  std::thread housekeeper_;
};

}  // namespace boardhook::worker
