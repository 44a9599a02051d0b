// session.cpp -- the connection and argument rules shared by boardhook-queues' subcommands.
#include "tools/session.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/event_type.hpp"

namespace boardhook::tools {

Session::Session(const core::Config& config, Options options)
    : config_(config), options_(std::move(options)), redis_(config.redis, std::max(config.redis_timeout_ms, 1000), false) {}

io::RedisValue Session::call(const io::RedisCommand& command) {
  std::string error;
  auto reply = redis_.call(command, error);
  if (!reply) throw Failure{exit_redis, "redis unavailable: " + error};
  if (reply->is_error()) throw Failure{exit_redis, "redis: " + reply->text};
  return std::move(*reply);
}

void Session::run_transaction(const std::vector<io::RedisCommand>& commands) {
  std::string error;
  if (!redis_.run_transaction(commands, error)) throw Failure{exit_redis, "redis: " + error};
}

std::size_t Session::count_argument(std::size_t position, std::size_t fallback) const {
  if (options_.words.size() <= position) return fallback;
  const std::string& text = options_.words[position];
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value == 0 || value > 100000) {
    throw Failure{exit_usage, "N must be 1-100000, not \"" + text + "\""};
  }
  return static_cast<std::size_t>(value);
}

std::string Session::type_argument() const {
  if (options_.words.size() < 2) throw Failure{exit_usage, options_.words[0] + " needs an event type"};
  std::string error;
  auto type = core::parse_event_type_argument(options_.words[1], error);
  if (!type) throw Failure{exit_usage, error};
  return *type;
}

void Session::require_yes(const std::string& what) const {
  if (!options_.yes) throw Failure{exit_needs_yes, what + " changes Redis: add --yes to do it"};
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void print_json_array(const std::vector<std::string>& texts) {
  std::string out = "[";
  for (std::size_t i = 0; i < texts.size(); ++i) out += (i ? "," : "") + texts[i];
  out += "]\n";
  std::fputs(out.c_str(), stdout);
}

}  // namespace boardhook::tools
