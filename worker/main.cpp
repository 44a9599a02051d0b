// main.cpp -- boardhook-worker: options, configuration from the environment, signals.
#include <signal.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/command_line.hpp"
#include "core/config.hpp"
#include "core/event_type.hpp"
#include "core/worker_plan.hpp"
#include "io/environment.hpp"
#include "io/log.hpp"
#include "worker/worker.hpp"

namespace {

constexpr const char* usage =
    "usage: boardhook-worker [--type TYPE=COMMAND]... [--config FILE] [options]\n"
    "Runs COMMAND (with /bin/sh -c) once per event of TYPE taken from the boardhook queues:\n"
    "the envelope JSON on stdin; BOARDHOOK_EVENT_TYPE, BOARDHOOK_EVENT_ID, BOARDHOOK_ATTEMPT,\n"
    "BOARDHOOK_TICKET_ID and BOARDHOOK_DELIVERY in the environment. Exit 0 acknowledges the event;\n"
    "anything else retries it with back-off, then moves it to the dead list.\n"
    "  --type TYPE=COMMAND       serve TYPE with COMMAND (repeatable)\n"
    "  --config FILE             lines \"TYPE = COMMAND\" ('#' comments), instead of or besides --type\n"
    "  --concurrency N           consumers in this process (default 1)\n"
    "  --timeout SECONDS         per run of a command (default 60)\n"
    "  --max-attempts N          runs before an event is dead (default 5)\n"
    "  --backoff SECONDS         first retry delay, doubling each time (default 1)\n"
    "  --backoff-max SECONDS     longest retry delay (default 300)\n"
    "  --heartbeat-timeout SECONDS  after this silence a worker's running jobs are requeued (default 30)\n"
    "Redis and the key prefix come from BOARDHOOK_REDIS_URL and BOARDHOOK_QUEUE_PREFIX.\n"
    "SIGTERM or SIGINT: stop taking events, finish the running ones, exit 0.\n";

[[noreturn]] void refuse(const std::string& message) {
  std::fprintf(stderr, "boardhook-worker: %s\n%s", message.c_str(), usage);
  std::exit(2);
}

std::chrono::milliseconds parse_seconds(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds <= 0 || seconds > 86400) {
    refuse(flag + " \"" + text + "\": expected a number of seconds, more than 0");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::int64_t parse_count(const std::string& flag, const std::string& text, std::int64_t low, std::int64_t high) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < low || value > high) {
    refuse(flag + " \"" + text + "\": expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
  }
  return value;
}

using namespace boardhook;
using boardhook::io::environment;
using boardhook::io::read_whole_file;

// The options, in the order given so that --help after a mistake does not hide it. Refuses
// (exit 2) on anything malformed; exits 0 after --help.
worker::WorkerOptions read_options(int argc, char** argv) {
  static constexpr core::OptionSpec table[] = {
      {"--help", false, "-h"}, {"--type", true},    {"--config", true},      {"--concurrency", true}, {"--timeout", true},
      {"--max-attempts", true}, {"--backoff", true}, {"--backoff-max", true}, {"--heartbeat-timeout", true},
  };
  const core::CommandLine line = core::parse_command_line(argc, argv, table);
  worker::WorkerOptions options;
  const auto add_route = [&](const std::pair<std::string, std::string>& route, const std::string& where) {
    if (!options.routes.emplace(route).second) refuse(where + ": event type " + core::printable_event_type(route.first) + " given twice");
  };
  for (const core::ParsedOption& option : line.options) {
    const std::string flag(option.name);
    const std::string& value = option.value;
    std::string error;
    if (flag == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (flag == "--type") {
      const auto route = core::parse_route(value, error);
      if (!route) refuse("--type \"" + value + "\": " + error);
      add_route(*route, "--type");
    } else if (flag == "--config") {
      const auto text = read_whole_file(value, error);
      if (!text) refuse("--config \"" + value + "\": " + error);
      const auto routes = core::parse_routes(*text, error);
      if (!routes) refuse("--config \"" + value + "\": " + error);
      for (const auto& route : *routes) add_route(route, "--config");
    } else if (flag == "--concurrency") {
      options.concurrency = static_cast<int>(parse_count(flag, value, 1, 256));
    } else if (flag == "--timeout") {
      options.timeout = parse_seconds(flag, value);
    } else if (flag == "--max-attempts") {
      options.retry.max_attempts = parse_count(flag, value, 1, 1000);
    } else if (flag == "--backoff") {
      options.retry.backoff_base = parse_seconds(flag, value);
    } else if (flag == "--backoff-max") {
      options.retry.backoff_max = parse_seconds(flag, value);
    } else if (flag == "--heartbeat-timeout") {
      options.heartbeat_timeout = parse_seconds(flag, value);
    }
  }
  if (line.error) refuse(line.error->message());
  if (!line.operands.empty()) refuse("unknown argument " + line.operands[0]);
  if (options.routes.empty()) refuse("no event type to serve: give --type TYPE=COMMAND or --config FILE");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const worker::WorkerOptions options = read_options(argc, argv);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a command that stops reading its stdin must not kill the worker

  io::init_logging("info");
  core::Config config;
  try {
    config = core::load_config(environment, read_whole_file, false);
  } catch (const core::ConfigError& error) {
    spdlog::critical("configuration refused: {}", error.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  worker::Worker worker(config, options);
  std::string types;
  for (const auto& [type, command] : options.routes) types += (types.empty() ? "" : ",") + core::printable_event_type(type);
  spdlog::info("boardhook-worker {} started: types={} concurrency={} timeout={} ms max_attempts={} prefix={}", worker.id(),
               types, options.concurrency, options.timeout.count(), options.retry.max_attempts, config.queue_prefix);
  worker.start();

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  worker.request_stop();  // before the log line, which tells an observer the stop is in force
  spdlog::info("{} received: taking no new events; finishing the running ones", strsignal(signal_number));
  const bool all_acknowledged = worker.wait();
  spdlog::info("boardhook-worker {} stopped{}", worker.id(), all_acknowledged ? "" : "; some jobs were left for peers to requeue");
  return all_acknowledged ? 0 : 1;
}
