// worker.hpp -- boardhook-worker: consumers per route (an event type and its destination), flow
// control (pause, circuit, rate, jobs in flight), heartbeat and housekeeping over the queues.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/circuit.hpp"
#include "core/config.hpp"
#include "core/envelope.hpp"
#include "core/job_outcome.hpp"
#include "core/worker_plan.hpp"
#include "io/redis_connection.hpp"
#include "worker/sender.hpp"

namespace boardhook::worker {

// One event type, where its events go, and its limits.
struct Route {
  std::string type;
  core::Destination destination;
  std::optional<double> rate_per_second;  // across every worker on every host
  std::optional<int> max_in_flight;       // likewise
  bool order_by_ticket = false;           // one event per ticket at a time, in queue order
};

struct WorkerOptions {
  std::vector<Route> routes;
  int concurrency = 1;  // consumers per route
  std::chrono::milliseconds timeout{60'000};
  core::RetryPolicy retry;
  core::CircuitPolicy circuit;
  HttpSettings http;
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
  // A route's shared state: its circuit (one per destination, shared by its consumers) and
  // whether it is paused.
  struct RouteState {
    Route route;
    std::mutex mutex;  // guards circuit
    core::Circuit circuit;
    std::atomic<bool> paused{false};
  };
  // One consumer: its connection, processing list, sender and back-off between Redis failures.
  struct Consumer {
    std::string id;
    std::string processing;
    RouteState& route;
    io::RedisConnection redis;
    std::unique_ptr<Sender> sender;
    std::mt19937_64 random;
    std::chrono::milliseconds backoff{100};
    int unsettled = 0;            // jobs taken and not yet acknowledged, retried or given back
    bool check_leftovers = true;  // at the start, and after Redis failed
  };

  void consume(Consumer& consumer);
  bool may_take(Consumer& consumer);
  bool acquire_flow(Consumer& consumer);
  void release_flow(Consumer& consumer);
  std::optional<std::string> take(Consumer& consumer, bool& failed, std::string& error);
  void give_back(Consumer& consumer, const std::string& envelope);
  std::optional<std::size_t> return_leftovers(Consumer& consumer);
  std::int64_t count_attempt(Consumer& consumer, const std::string& attempts_field);
  void run_and_settle(Consumer& consumer, const std::string& envelope);
  void unstick_tickets(io::RedisConnection& redis);
  core::RunReport report_to_circuit(RouteState& route, const DeliveryResult& result);
  void settle(Consumer& consumer, const std::string& envelope, const std::optional<core::EnvelopeSummary>& summary,
              std::int64_t attempt, const core::RunReport& report, const core::JobFailure& failure);
  void redis_failed(Consumer& consumer, const std::string& error);
  void housekeeping();
  void publish_record(io::RedisConnection& redis);
  void refresh_paused(io::RedisConnection& redis);
  void reclaim_dead_peers(io::RedisConnection& redis);
  bool sleep_unless_stopping(std::chrono::milliseconds duration);

  const core::Config& config_;
  WorkerOptions options_;
  std::string id_;  // core::make_worker_id
  std::vector<std::unique_ptr<RouteState>> routes_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> housekeeping_done_{false};
  std::atomic<bool> record_changed_{true};
  std::atomic<int> unacknowledged_{0};
  std::chrono::milliseconds hold_ttl_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> threads_;
  std::thread housekeeper_;
};

}  // namespace boardhook::worker
