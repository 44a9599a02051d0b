// fcgi_server.hpp -- the FastCGI edge: threads that accept requests, call decide(), store, answer.
#pragma once
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "io/store.hpp"

namespace boardhook::fcgi {

// Opens the listening socket named by BOARDHOOK_LISTEN ("unix:/path" or "host:port"), or
// checks that fd 0 is one when `listen` is empty (spawn-fcgi, systemd). Throws on failure.
int open_listener(const std::string& listen);

class Server {
 public:
  Server(const core::Config& config, int listen_fd, io::EventStore& store);
  ~Server();

  // Starts config.threads threads; each serves one FastCGI connection at a time and owns
  // its own Redis connection, so no lock is taken on the request path.
  void start();
  // Stops accepting new connections; requests already being served go on.
  void stop_accepting();
  // Waits until no request is being served or `grace` has passed; true when idle.
  bool wait_until_idle(std::chrono::milliseconds grace) const;
  int requests_in_flight() const { return in_flight_.load(); }

 private:
  void serve();

  const core::Config& config_;
  int listen_fd_;
  io::EventStore& store_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  std::vector<std::thread> threads_;
};

}  // namespace boardhook::fcgi
