// worker_plan.hpp -- what boardhook-worker runs for which event type, and when it retries.
#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

// Where a worker sends an event: a shell command, or an HTTP(S) URL it POSTs the envelope to.
struct Destination {
  enum class Kind { command, http };
  Kind kind = Kind::command;
  std::string target;  // the command line, or the URL
};
Destination destination_of(std::string_view text);  // http:// and https:// are URLs

// Event type -> shell command. Parsed from "TYPE=COMMAND" arguments or a config file of
// "TYPE = COMMAND" lines ('#' starts a comment line). Returns nullopt with `error` set
// (naming the line) when a line is malformed or a type is given twice.
std::optional<std::map<std::string, std::string>> parse_routes(std::string_view text, std::string& error);
std::optional<std::pair<std::string, std::string>> parse_route(std::string_view line, std::string& error);

// The delay before retry number `attempt` + 1 after `attempt` failed attempts: exponential
// from `base`, capped at `cap`, with "equal jitter" (half fixed, half random) so workers
// that failed together do not retry together. `random_fraction` is in [0, 1).
std::chrono::milliseconds retry_delay(std::int64_t attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      double random_fraction);

}  // namespace boardhook::core
