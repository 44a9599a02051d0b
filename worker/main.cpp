// main.cpp -- boardhook-worker: options (on the command line or in a --config file), configuration
// from the environment, signals.
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "core/command_line.hpp"
#include "core/config.hpp"
#include "core/event_type.hpp"
#include "core/flow.hpp"
#include "core/worker_plan.hpp"
#include "io/environment.hpp"
#include "io/log.hpp"
#include "worker/worker.hpp"

namespace {

using namespace boardhook;
using boardhook::io::environment;
using boardhook::io::read_whole_file;

constexpr const char* usage =
    "usage: boardhook-worker [--type TYPE=DESTINATION]... [--config FILE] [options]\n"
    "Delivers each event of TYPE taken from the boardhook queues to DESTINATION: a command (run\n"
    "with /bin/sh -c; the envelope JSON on stdin, BOARDHOOK_EVENT_TYPE, BOARDHOOK_EVENT_ID,\n"
    "BOARDHOOK_ATTEMPT, BOARDHOOK_TICKET_ID and BOARDHOOK_DELIVERY in its environment; exit 0\n"
    "acknowledges), or an http:// or https:// URL (a POST of the envelope with the Standard Webhooks\n"
    "headers; 2xx acknowledges). Failures are retried with back-off, then become dead letters.\n"
    "  --type TYPE=DESTINATION    serve TYPE (repeatable)\n"
    "  --config FILE              lines \"TYPE = DESTINATION\" and \"--option value\" ('#' comments)\n"
    "  --concurrency N            consumers per type (default 1)\n"
    "  --timeout SECONDS          per delivery, the whole exchange (default 60)\n"
    "  --max-attempts N           deliveries before an event is dead (default 5)\n"
    "  --backoff SECONDS          first retry delay, doubling each time (default 1)\n"
    "  --backoff-max SECONDS      longest retry delay (default 300)\n"
    "  --heartbeat-timeout SECONDS  after this silence a worker's running jobs are requeued (default 30)\n"
    "  --rate TYPE=N/s            at most N events of TYPE a second, across every worker (also /m, /h)\n"
    "  --max-in-flight TYPE=N     at most N events of TYPE running at once, across every worker\n"
    "  --order-by TYPE=ticket     a ticket's events one at a time, in the order they were queued,\n"
    "                             across every worker (a failed one keeps its place)\n"
    "  --circuit-failures N       consecutive failures of a destination that open its circuit (default 5)\n"
    "  --circuit-cooldown SECONDS the first pause of an open circuit; it doubles (default 5)\n"
    "  --circuit-cooldown-max SECONDS  its longest pause (default 300)\n"
    "  --http-retry-status LIST   HTTP answers retried (default 408,429,500-599); other non-2xx: dead\n"
    "  --ca-bundle FILE           verify HTTPS destinations against these CAs\n"
    "  --client-cert FILE, --client-key FILE   a client certificate for HTTPS destinations\n"
    "Redis and the key prefix come from BOARDHOOK_REDIS_URL and BOARDHOOK_QUEUE_PREFIX; the signing\n"
    "secret from BOARDHOOK_SIGNING_SECRET(_FILE).\n"
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

constexpr core::OptionSpec option_table[] = {
    {"--help", false, "-h"},      {"--type", true},           {"--config", true},
    {"--concurrency", true},      {"--timeout", true},        {"--max-attempts", true},
    {"--backoff", true},          {"--backoff-max", true},    {"--heartbeat-timeout", true},
    {"--rate", true},             {"--max-in-flight", true},  {"--circuit-failures", true},
    {"--circuit-cooldown", true}, {"--circuit-cooldown-max", true}, {"--http-retry-status", true},
    {"--ca-bundle", true},        {"--client-cert", true},    {"--client-key", true},
    {"--order-by", true},
};

// What the options say, before the routes' limits are joined to them.
struct Reading {
  worker::WorkerOptions options;
  std::vector<std::pair<std::string, std::string>> rates, in_flight, order_by;  // TYPE, value
};

worker::Route& route_of(worker::WorkerOptions& options, const std::string& type, const std::string& flag) {
  const auto found = std::find_if(options.routes.begin(), options.routes.end(), [&](const auto& r) { return r.type == type; });
  if (found == options.routes.end()) refuse(flag + ": event type " + core::printable_event_type(type) + " is not served here (no --type)");
  return *found;
}

void read_config_file(const std::string& path, Reading& reading);

// One option, from the command line or a --config file.
void apply_option(std::string_view name, const std::string& value, Reading& reading) {
  worker::WorkerOptions& options = reading.options;
  const std::string flag(name);
  std::string error;
  if (flag == "--type") {
    const auto route = core::parse_route(value, error);
    if (!route) refuse("--type \"" + value + "\": " + error);
    if (std::any_of(options.routes.begin(), options.routes.end(), [&](const auto& r) { return r.type == route->first; })) {
      refuse("--type: event type " + core::printable_event_type(route->first) + " given twice");
    }
    options.routes.push_back({route->first, core::destination_of(route->second), std::nullopt, std::nullopt});
  } else if (flag == "--config") {
    read_config_file(value, reading);
  } else if (flag == "--rate" || flag == "--max-in-flight" || flag == "--order-by") {
    const auto assignment = core::parse_route(value, error);
    if (!assignment) refuse(flag + " \"" + value + "\": " + error);
    (flag == "--rate" ? reading.rates : flag == "--order-by" ? reading.order_by : reading.in_flight).push_back(*assignment);
  } else if (flag == "--concurrency") options.concurrency = static_cast<int>(parse_count(flag, value, 1, 256));
  else if (flag == "--timeout") options.timeout = parse_seconds(flag, value);
  else if (flag == "--max-attempts") options.retry.max_attempts = parse_count(flag, value, 1, 1000);
  else if (flag == "--backoff") options.retry.backoff_base = parse_seconds(flag, value);
  else if (flag == "--backoff-max") options.retry.backoff_max = parse_seconds(flag, value);
  else if (flag == "--heartbeat-timeout") options.heartbeat_timeout = parse_seconds(flag, value);
  else if (flag == "--circuit-failures") options.circuit.failures_to_open = static_cast<int>(parse_count(flag, value, 1, 1000));
  else if (flag == "--circuit-cooldown") options.circuit.cooldown = parse_seconds(flag, value);
  else if (flag == "--circuit-cooldown-max") options.circuit.cooldown_max = parse_seconds(flag, value);
  else if (flag == "--ca-bundle") options.http.ca_bundle = value;
  else if (flag == "--client-cert") options.http.client_cert = value;
  else if (flag == "--client-key") options.http.client_key = value;
  else if (flag == "--http-retry-status") {
    const auto statuses = core::parse_retry_statuses(value, error);
    if (!statuses) refuse("--http-retry-status \"" + value + "\": " + error);
    options.http.retry_statuses = *statuses;
  }
}

// Lines "TYPE = DESTINATION", or an option and its value ("--rate ticket_status_change=50/s").
void read_config_file(const std::string& path, Reading& reading) {
  std::string error;
  const auto text = read_whole_file(path, error);
  if (!text) refuse("--config \"" + path + "\": " + error);
  std::size_t number = 0;
  std::string_view rest = *text;
  while (!rest.empty()) {
    ++number;
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "--config \"" + path + "\" line " + std::to_string(number);
    if (!line.starts_with("--")) {
      apply_option("--type", std::string(line), reading);
      continue;
    }
    const std::size_t gap = line.find_first_of(" \t");
    const std::string_view name = line.substr(0, gap);
    const auto spec = std::find_if(std::begin(option_table), std::end(option_table), [&](const auto& o) { return o.name == name; });
    if (spec == std::end(option_table) || !spec->takes_value || name == "--config" || gap == std::string_view::npos) {
      refuse(where + ": expected \"TYPE = DESTINATION\" or \"--option value\"");
    }
    std::string_view value = line.substr(gap);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    apply_option(name, std::string(value), reading);
  }
}

// The options, in the order given so that --help after a mistake does not hide it. Refuses
// (exit 2) on anything malformed; exits 0 after --help.
worker::WorkerOptions read_options(int argc, char** argv) {
  const core::CommandLine line = core::parse_command_line(argc, argv, option_table);
  Reading reading;
  std::string unused;
  reading.options.http.retry_statuses = *core::parse_retry_statuses(core::default_retry_statuses, unused);
  for (const core::ParsedOption& option : line.options) {
    if (option.name == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    apply_option(option.name, option.value, reading);
  }
  if (line.error) refuse(line.error->message());
  if (!line.operands.empty()) refuse("unknown argument " + line.operands[0]);
  worker::WorkerOptions& options = reading.options;
  if (options.routes.empty()) refuse("no event type to serve: give --type TYPE=DESTINATION or --config FILE");
  for (const auto& [type, value] : reading.rates) {
    std::string error;
    const auto rate = core::parse_rate(value, error);
    if (!rate) refuse("--rate: " + error);
    route_of(options, type, "--rate").rate_per_second = *rate;
  }
  for (const auto& [type, value] : reading.in_flight) {
    route_of(options, type, "--max-in-flight").max_in_flight = static_cast<int>(parse_count("--max-in-flight", value, 1, 100'000));
  }
  for (const auto& [type, value] : reading.order_by) {
    if (value != "ticket") refuse("--order-by " + core::printable_event_type(type) + "=" + value + ": the one order is \"ticket\"");
    route_of(options, type, "--order-by").order_by_ticket = true;
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  worker::WorkerOptions options = read_options(argc, argv);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a command that stops reading its stdin must not kill the worker
  worker::init_http();

  io::init_logging("info");
  core::Config config;
  try {
    config = core::load_config(environment, read_whole_file, false);
  } catch (const core::ConfigError& error) {
    spdlog::critical("configuration refused: {}", error.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (!config.signing_secrets.empty()) {
    std::string joined, error;
    for (const std::string& secret : config.signing_secrets) joined += secret + "\n";
    options.http.signing = core::parse_signing_secrets(joined, error);
  }

  worker::Worker worker(config, options);
  std::string types;
  for (const worker::Route& route : options.routes) {
    types += (types.empty() ? "" : ",") + core::printable_event_type(route.type) +
             (route.destination.kind == core::Destination::Kind::http ? "(http)" : "");
  }
  spdlog::info("boardhook-worker {} started: types={} concurrency={} per type, timeout={} ms max_attempts={} prefix={}{}", worker.id(),
               types, options.concurrency, options.timeout.count(), options.retry.max_attempts, config.queue_prefix,
               options.http.signing ? " signing=on" : "");
  worker.start();

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  worker.request_stop();  // before the log line, which tells an observer the stop is in force
  spdlog::info("{} received: taking no new events; finishing the running ones", strsignal(signal_number));
  const bool all_acknowledged = worker.wait();
  spdlog::info("boardhook-worker {} stopped{}", worker.id(), all_acknowledged ? "" : "; some jobs were left for peers to requeue");
  return all_acknowledged ? 0 : 1;
}
