// fcgi_server.hpp -- the FastCGI edge: threads that accept requests, call decide(), store, answer.
#pragma once
#include <atomic>
#include <cstdint>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "handler/metrics_registry.hpp"
#include "handler/store.hpp"

namespace boardhook::handler {

// Opens the listening socket named by BOARDHOOK_LISTEN ("unix:/path" or "host:port"), or
// takes `inherited_fd` (systemd socket activation, or fd 0 from spawn-fcgi) when `listen` is
// empty, checking that it is a listening socket. Throws on failure.
int open_listener(const std::string& listen, int inherited_fd);

class Server {
 public:
  Server(std::shared_ptr<const core::Config> config, int listen_fd, handler::EventStore& store, handler::MetricsRegistry& metrics,
         io::Spool* spool);
  ~Server();

  // Starts config.threads threads; each serves one FastCGI connection at a time and owns
  // its own Redis connection, so no lock is taken on the request path.
  void start();
  // New requests see `config` from now on (SIGHUP: a rotated token).
  void replace_config(std::shared_ptr<const core::Config> config) {
    config_.store(std::move(config));
    ++config_generation_;
  }
  // Stops accepting: threads waiting for a connection are woken and end, idle kept
  // connections are closed, and one whose request is being served is closed right after its
  // answer. The listening socket itself is left alone: other processes (--processes, or the
  // next start under systemd socket activation) go on accepting on it.
  void stop_accepting();
  // Waits until every thread has ended or `grace` has passed; true when all ended.
  bool wait_until_stopped(std::chrono::milliseconds grace);
  int requests_in_flight() const { return in_flight_.load(); }

 private:
  // One per thread: the kept connection it is waiting on between requests, or -1.
  struct Slot {
    std::atomic<int> idle_fd{-1};
  };
  void serve(Slot& slot);
  int open_waiter() const;
  bool wait_for_connection(int waiter);

  std::atomic<std::shared_ptr<const core::Config>> config_;
  // Bumped by replace_config. Threads keep their own copy of the configuration and reload it
  // only when this moved: loading the atomic shared_ptr takes its lock and touches its
  // reference count, a cache line every thread would otherwise fight over on each request.
  std::atomic<std::uint64_t> config_generation_{0};
  int listen_fd_;
  int wake_fd_ = -1;  // eventfd, readable once stopping
  handler::EventStore& store_;
  handler::MetricsRegistry& metrics_;
  io::Spool* spool_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<int> running_threads_{0};
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::thread> threads_;
};

}  // namespace boardhook::handler
