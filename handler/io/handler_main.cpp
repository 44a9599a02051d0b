// handler_main.cpp -- boardhook-handler: configuration, logging, listener, threads, signals.
#include <fcgiapp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/config.hpp"
#include "core/json_escape.hpp"
#include "io/spool.hpp"
#include "io/store.hpp"
#include "io/fcgi_server.hpp"
#include "io/log.hpp"

namespace {

// How long in-flight requests may take to finish after SIGTERM; Redis calls are bounded
// by BOARDHOOK_REDIS_TIMEOUT_MS, so this is generous.
constexpr std::chrono::seconds stop_grace{15};

std::optional<std::string> environment(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

std::optional<std::string> read_whole_file(const std::string& path, std::string& error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

void print_usage() {
  std::puts(
      "usage: boardhook-handler [--drain-spool | --spool-status]\n"
      "A FastCGI responder for Socialboards webhooks, configured by the environment (see the\n"
      "README's settings table). Stops cleanly on SIGTERM or SIGINT.\n"
      "  --drain-spool   move every spooled event whose handler is not running into Redis, then exit\n"
      "                  (0: spool empty, 1: records remain, 2: configuration refused)\n"
      "  --spool-status  print the spool's depth as JSON and exit");
}

// --drain-spool: for an operator whose handler is stopped (or on another schedule).
int drain_spool_command(const boardhook::core::Config& config) {
  using namespace boardhook;
  if (config.spool_dir.empty()) {
    spdlog::critical("BOARDHOOK_SPOOL_DIR is not set: there is no spool to drain");
    return 2;
  }
  spool::Spool spool(config.spool_dir, config.spool_max_bytes);
  redis::Connection redis(config.redis, config.redis_timeout_ms);
  const spool::DrainResult result = io::drain_once(spool, redis);
  const spool::SpoolStatus left = spool::Spool::scan_status(config.spool_dir);
  if (!result.error.empty()) spdlog::error("spool drain stopped: \"{}\"", result.error);
  spdlog::info("spool drain finished: {} record(s) delivered, {} torn stretch(es) skipped, {} record(s) left",
               result.delivered, result.torn, left.records);
  return left.records == 0 ? 0 : 1;
}

int spool_status_command(const boardhook::core::Config& config) {
  using namespace boardhook;
  const spool::SpoolStatus status = config.spool_dir.empty() ? spool::SpoolStatus{} : spool::Spool::scan_status(config.spool_dir);
  std::printf("{\"spool_dir\":%s,\"segments\":%zu,\"records\":%zu,\"bytes\":%llu,\"oldest_written_at_ms\":%s,"
              "\"torn_records\":%zu}\n",
              core::json_string(config.spool_dir).c_str(), status.segments, status.records,
              static_cast<unsigned long long>(status.bytes),
              status.oldest_written_at_ms ? std::to_string(*status.oldest_written_at_ms).c_str() : "null",
              status.torn_records);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace boardhook;
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (argc > 2 || (!mode.empty() && mode != "--drain-spool" && mode != "--spool-status")) {
    print_usage();
    return mode == "--help" || mode == "-h" ? 0 : 2;
  }

  // Signals are taken by sigwait() below; every thread inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // nginx closing a connection must not kill the process

  io::init_logging("info");
  core::Config config;
  try {
    config = core::load_config(environment, read_whole_file);
  } catch (const core::ConfigError& error) {
    spdlog::critical("configuration refused: {}", error.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  try {
    if (mode == "--drain-spool") return drain_spool_command(config);
    if (mode == "--spool-status") return spool_status_command(config);
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 2;
  }

  std::unique_ptr<spool::Spool> spool;
  if (config.spool_dir.empty()) {
    spdlog::warn("BOARDHOOK_SPOOL_DIR is not set: while Redis cannot take events, POSTs are answered 503");
  } else {
    try {
      spool = std::make_unique<spool::Spool>(config.spool_dir, config.spool_max_bytes);
    } catch (const std::exception& error) {
      spdlog::critical("{}", error.what());
      return 1;
    }
  }
  io::EventStore store(config, spool.get());

  if (FCGX_Init() != 0) {
    spdlog::critical("libfcgi initialisation failed");
    return 1;
  }
  int listen_fd = -1;
  try {
    listen_fd = fcgi::open_listener(config.listen);
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }

  fcgi::Server server(config, listen_fd, store);
  server.start();
  store.start_drainer();
  spdlog::info("boardhook-handler started: {}", core::describe(config));

  for (;;) {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (signal_number == SIGHUP) {
      spdlog::info("SIGHUP received: nothing to reload; configuration is read at start-up");
      continue;
    }
    spdlog::info("{} received: no new connections; waiting for {} request(s) in flight", strsignal(signal_number),
                 server.requests_in_flight());
    break;
  }
  server.stop_accepting();
  const bool idle = server.wait_until_idle(stop_grace);
  if (idle) spdlog::info("boardhook-handler stopped");
  else spdlog::error("boardhook-handler stopping with {} request(s) still in flight after {} s", server.requests_in_flight(),
                     stop_grace.count());
  store.stop_drainer();
  spdlog::default_logger()->flush();
  // Threads idle on kept nginx connections are blocked in read(); end them with the process.
  _exit(idle ? 0 : 1);
}
