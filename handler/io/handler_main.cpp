// handler_main.cpp -- boardhook-handler: configuration, logging, listener, threads, signals.
#include <fcgiapp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/config.hpp"
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
      "usage: boardhook-handler\n"
      "A FastCGI responder for Socialboards webhooks; configured only by the environment\n"
      "(see the README's settings table). Stops cleanly on SIGTERM or SIGINT.");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace boardhook;
  if (argc > 1) {
    const std::string_view flag = argv[1];
    print_usage();
    return flag == "--help" || flag == "-h" ? 0 : 2;
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

  fcgi::Server server(config, listen_fd);
  server.start();
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
  spdlog::default_logger()->flush();
  // Threads idle on kept nginx connections are blocked in read(); end them with the process.
  _exit(idle ? 0 : 1);
}
