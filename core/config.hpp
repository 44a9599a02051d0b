// config.hpp -- the one configuration struct, filled once at start-up from the environment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/redis_url.hpp"

namespace boardhook::core {

struct Config {
  std::vector<std::string> verify_tokens;  // any one of them is accepted (rotation)
  RedisEndpoint redis;                      // from BOARDHOOK_REDIS_URL (default redis://127.0.0.1:6379/0)
  std::string queue_prefix = "boardhook";
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  int redis_timeout_ms = 2000;
  int redis_batch_wait_us = 1000;           // longest a batch waits for writes being prepared; 0: never
  std::size_t rejected_keep = 1000;
  std::string listen;                       // "unix:/path", "host:port"; empty = socket on fd 0
  int threads = 80;
  std::vector<std::string> endpoint_keys;   // when set, a POST must carry ?key= one of them
  std::vector<std::string> communities;     // when set, the only CommunityName values accepted
  std::size_t max_events = 1000;            // most items one notification may hold
  std::string user;                         // drop root to this user after opening files
  std::string socket_group;                 // group that may connect to a unix socket (nginx's)
  std::string spool_dir;                    // empty: no spool, Redis failures answer 503
  std::uint64_t spool_max_bytes = 1024ull * 1024 * 1024;
  std::string log_level = "info";
};

// A bad setting, worded for the operator: BOARDHOOK_X="value": what is wrong.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Returns a file's contents, or nullopt with `error` set.
using FileReader = std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

// Builds the configuration from `lookup`; throws ConfigError on the first bad value.
// Only the handler needs a verify token (`require_token`); workers and tools share the rest.
Config load_config(const EnvLookup& lookup, const FileReader& read_file, bool require_token = true);

// One line for the start-up log; holds no secrets.
std::string describe(const Config& config);

// Every setting's variable name, in README order.
std::vector<std::string_view> setting_names();

}  // namespace boardhook::core
