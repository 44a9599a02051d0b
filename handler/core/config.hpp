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

namespace boardhook::core {

struct RedisEndpoint {
  std::string host = "127.0.0.1";  // empty when `unix_path` is set
  int port = 6379;
  std::string unix_path;           // set for unix:///path URLs
  int database = 0;
  std::string username;            // Redis 6 ACL user; empty for the default user
  std::string password;            // never logged

  bool is_unix_socket() const { return !unix_path.empty(); }
};

struct Config {
  std::vector<std::string> verify_tokens;  // any one of them is accepted (rotation)
  std::string redis_url = "redis://127.0.0.1:6379/0";
  RedisEndpoint redis;                      // parsed from redis_url
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

// Parses a Redis URL (redis://[user:password@]host[:port][/db] or unix:///path[?db=N]).
// Returns nullopt with `error` set when malformed.
std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string& error);

// One line for the start-up log; holds no secrets.
std::string describe(const Config& config);

// Every setting's variable name, in README order.
std::vector<std::string_view> setting_names();

}  // namespace boardhook::core
