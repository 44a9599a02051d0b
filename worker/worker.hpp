// worker.hpp -- boardhook-worker's consumers, heartbeat and housekeeping over the Redis queues.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::worker {

struct WorkerOptions {
  std::map<std::string, std::string> routes;  // event type -> shell command
  int concurrency = 1;
  std::chrono::milliseconds timeout{60'000};
  std::int64_t max_attempts = 5;
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_max{300'000};
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
  void consume(int index);
  void housekeeping();
  void reclaim_dead_peers(io::RedisConnection& redis);
  bool sleep_unless_stopping(std::chrono::milliseconds duration);

  const core::Config& config_;
  WorkerOptions options_;
  std::string id_;  // host:pid
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
