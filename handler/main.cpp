// main.cpp -- boardhook-handler: configuration, logging, listener, processes, signals.
#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <sstream>

#include "core/command_line.hpp"
#include "core/config.hpp"
#include "core/json_escape.hpp"
#include "handler/fcgi_server.hpp"
#include "io/environment.hpp"
#include "io/log.hpp"
#include "handler/metrics_registry.hpp"
#include "handler/privileges.hpp"
#include "io/spool.hpp"
#include "handler/store.hpp"
#include "handler/supervisor.hpp"

namespace {

using namespace boardhook;

// How long in-flight requests may take to finish after SIGTERM; Redis calls are bounded
// by BOARDHOOK_REDIS_TIMEOUT_MS and nginx gives up after its fastcgi_read_timeout, so this
// is generous. Supervisors (systemd's TimeoutStopSec) must allow longer.
constexpr std::chrono::seconds stop_grace{15};

using io::environment;
using io::read_whole_file;

constexpr const char* usage =
    "usage: boardhook-handler [--processes N | --drain-spool | --spool-status]\n"
    "A FastCGI responder for Socialboards webhooks, configured by the environment (see the\n"
    "README's settings table). SIGTERM/SIGINT drain and stop; SIGHUP re-reads the token file.\n"
    "  --processes N   run N handler processes on the one socket, restarting any that dies\n"
    "  --drain-spool   move every spooled event whose handler is not running into Redis, then exit\n"
    "                  (0: spool empty, 1: records remain, 2: configuration refused)\n"
    "  --spool-status  print the spool's depth as JSON and exit\n";

// The socket systemd passed (socket activation hands it over as fd 3), else fd 0.
int inherited_socket() {
  const auto pid = environment("LISTEN_PID");
  const auto fds = environment("LISTEN_FDS");
  if (pid && fds && std::atoi(pid->c_str()) == getpid() && std::atoi(fds->c_str()) >= 1) return 3;
  return 0;
}

int drain_spool_command(const core::Config& config) {
  if (config.spool_dir.empty()) {
    spdlog::critical("BOARDHOOK_SPOOL_DIR is not set: there is no spool to drain");
    return 2;
  }
  io::Spool spool(config.spool_dir, config.spool_max_bytes);
  io::RedisConnection redis(config.redis, config.redis_timeout_ms);
  const io::DrainResult result = handler::drain_once(spool, redis, config);
  const io::SpoolStatus left = io::Spool::scan_status(config.spool_dir);
  if (!result.error.empty()) spdlog::error("spool drain stopped: \"{}\"", result.error);
  spdlog::info("spool drain finished: {} record(s) delivered, {} torn stretch(es) skipped, {} record(s) left",
               result.delivered, result.torn, left.records);
  return left.records == 0 ? 0 : 1;
}

int spool_status_command(const core::Config& config) {
  const io::SpoolStatus status = config.spool_dir.empty() ? io::SpoolStatus{} : io::Spool::scan_status(config.spool_dir);
  std::printf("{\"spool_dir\":%s,\"segments\":%zu,\"records\":%zu,\"bytes\":%llu,\"oldest_written_at_ms\":%s,"
              "\"torn_records\":%zu}\n",
              core::json_string(config.spool_dir).c_str(), status.segments, status.records,
              static_cast<unsigned long long>(status.bytes),
              status.oldest_written_at_ms ? std::to_string(*status.oldest_written_at_ms).c_str() : "null",
              status.torn_records);
  return 0;
}

// SIGHUP: a new token file (rotation). Only the tokens change; other settings need a restart.
std::shared_ptr<const core::Config> reload_tokens(const std::shared_ptr<const core::Config>& current) {
  try {
    const core::Config fresh = core::load_config(environment, read_whole_file);
    auto next = std::make_shared<core::Config>(*current);
    next->verify_tokens = fresh.verify_tokens;
    next->endpoint_keys = fresh.endpoint_keys;
    spdlog::info("SIGHUP: verify tokens reloaded ({} accepted){}", next->verify_tokens.size(),
                 environment("BOARDHOOK_VERIFY_TOKEN_FILE") ? "" : "; BOARDHOOK_VERIFY_TOKEN comes from the environment, which a running process cannot change");
    return next;
  } catch (const core::ConfigError& error) {
    spdlog::error("SIGHUP: configuration refused: {}; keeping the current tokens", error.what());
    return current;
  }
}

// One handler process: its spool writer, drainer, FastCGI threads; runs until SIGTERM/SIGINT.
int serve_process(const core::Config& config, int listen_fd, handler::MetricsRegistry& metrics) {
  std::unique_ptr<io::Spool> spool;
  if (!config.spool_dir.empty()) {
    try {
      spool = std::make_unique<io::Spool>(config.spool_dir, config.spool_max_bytes);
    } catch (const std::exception& error) {
      spdlog::critical("{}", error.what());
      return 1;
    }
  }
  handler::EventStore store(
      config, spool.get(),
      [&metrics](std::size_t records, std::int64_t duplicates) { metrics.record_drained(records, duplicates); },
      [&metrics](std::size_t requests, std::int64_t duplicates) { metrics.record_redis_batch(requests, duplicates); });
  auto current = std::make_shared<const core::Config>(config);
  handler::Server server(current, listen_fd, store, metrics, spool.get());
  server.start();
  store.start_drainer();
  spdlog::info("boardhook-handler {} serving: {}", getpid(), core::describe(config));

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  for (;;) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGHUP) {
      current = reload_tokens(current);
      server.replace_config(current);
      continue;
    }
    spdlog::info("{} received: no new requests; waiting for {} in flight", strsignal(signal_number), server.requests_in_flight());
    break;
  }
  server.stop_accepting();
  const bool stopped = server.wait_until_stopped(stop_grace);
  store.stop_drainer();
  if (stopped) spdlog::info("boardhook-handler {} stopped", getpid());
  else spdlog::error("boardhook-handler {} stopping with {} request(s) still in flight after {} s", getpid(),
                     server.requests_in_flight(), stop_grace.count());
  spdlog::default_logger()->flush();
  // Threads still blocked (a stuck request) end with the process.
  _exit(stopped ? 0 : 1);
}

struct Arguments {
  std::string_view mode;  // "", "--drain-spool" or "--spool-status"
  int processes = 0;      // 0: serve in this process
};

// The options in the order given, so that --help after a mistake does not hide it; an exit code
// when the program ends here.
std::optional<int> read_arguments(int argc, char** argv, Arguments& arguments) {
  static constexpr core::OptionSpec options[] = {
      {"--help", false, "-h"}, {"--processes", true}, {"--drain-spool"}, {"--spool-status"}};
  const core::CommandLine line = core::parse_command_line(argc, argv, options);
  for (const core::ParsedOption& option : line.options) {
    if (option.name == "--help") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (option.name == "--processes") {
      const std::string& value = option.value;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), arguments.processes);
      if (ec != std::errc{} || end != value.data() + value.size() || arguments.processes < 1 || arguments.processes > 256) {
        std::fprintf(stderr, "boardhook-handler: --processes \"%s\": expected 1-256\n", value.c_str());
        return 2;
      }
    } else if (arguments.mode.empty()) {
      arguments.mode = option.name;
    } else {
      std::fprintf(stderr, "boardhook-handler: %s and %s: give one\n%s", std::string(arguments.mode).c_str(),
                   std::string(option.name).c_str(), usage);
      return 2;
    }
  }
  if (line.error || !line.operands.empty()) {
    std::fprintf(stderr, "boardhook-handler: %s\n%s",
                 line.error ? line.error->message().c_str() : ("unexpected argument " + line.operands[0]).c_str(), usage);
    return 2;
  }
  return std::nullopt;
}

// Signals are taken by sigwait(); every thread and child inherits this mask.
void prepare_process() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // nginx closing a connection must not kill the process
  // glibc gives threads up to 8 malloc arenas per core, and each keeps the memory it once
  // held; with 80 threads that was ~18 MiB RSS per process at 256 connections, against ~13
  // with 4 arenas at the same requests/s (each thread still has its own lock-free cache).
  // MALLOC_ARENA_MAX in the environment still decides when set.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 4);
}

// Opens the FastCGI socket, then gives up root: it is needed only to open files, and everything
// after this runs as BOARDHOOK_USER. Throws with the reason.
int open_socket_and_drop_root(const core::Config& config) {
  if (FCGX_Init() != 0) throw std::runtime_error("libfcgi initialisation failed");
  const int listen_fd = handler::open_listener(config.listen, inherited_socket());
  if (!config.socket_group.empty()) {
    if (!config.listen.starts_with("unix:")) throw std::runtime_error("BOARDHOOK_SOCKET_GROUP needs BOARDHOOK_LISTEN=unix:/path");
    handler::restrict_socket(config.listen.substr(5), config.socket_group);
  }
  if (!config.user.empty()) {
    if (!config.spool_dir.empty() && geteuid() == 0) handler::hand_over_directory(config.spool_dir, config.user);
    handler::become_user(config.user);
    spdlog::info("running as user {} (uid {})", config.user, getuid());
  }
  return listen_fd;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
  if (const auto code = read_arguments(argc, argv, arguments)) return *code;
  prepare_process();
  io::init_logging("info", /*buffered=*/true);
  core::Config config;
  try {
    config = core::load_config(environment, read_whole_file);
  } catch (const core::ConfigError& error) {
    spdlog::critical("configuration refused: {}", error.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  try {
    if (arguments.mode == "--drain-spool") return drain_spool_command(config);
    if (arguments.mode == "--spool-status") return spool_status_command(config);
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 2;
  }
  if (config.spool_dir.empty()) {
    spdlog::warn("BOARDHOOK_SPOOL_DIR is not set: while Redis cannot take events, POSTs are answered 503");
  }
  int listen_fd = -1;
  try {
    listen_fd = open_socket_and_drop_root(config);
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
  const double started = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  handler::MetricsRegistry& metrics = handler::MetricsRegistry::create(started);
  if (arguments.processes == 0) return serve_process(config, listen_fd, metrics);
  metrics.set_processes(static_cast<std::uint64_t>(arguments.processes));
  return handler::supervise(arguments.processes, [&] { return serve_process(config, listen_fd, metrics); });
}
