// config.hpp -- the one configuration struct, filled once at start-up from the environment, and
// the table of settings it is filled by.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/redis_url.hpp"

namespace boardhook::core {

// Every member is a setting of the table in config.cpp, which also holds its default: a
// default-constructed Config holds every default.
struct Config {
  Config();

  std::vector<std::string> verify_tokens;  // any one of them is accepted (rotation)
  RedisEndpoint redis;
  std::string redis_sentinel_password;     // for the Sentinels, when not the URL's password
  int redis_min_replicas = 0;              // replicas that must confirm a batch before its 200
  int redis_wait_timeout_ms = 0;           // how long WAIT waits for them
  int dedup_seconds = 0;                   // 0: an envelope id queued again is queued again
  std::string queue_prefix;
  std::size_t max_body_bytes = 0;
  int redis_timeout_ms = 0;
  int redis_batch_wait_us = 0;             // longest a batch waits for writes being prepared; 0: never
  std::size_t rejected_keep = 0;
  std::string listen;                      // "unix:/path", "host:port"; empty: the inherited socket
  int threads = 0;
  std::vector<std::string> endpoint_keys;  // when set, a POST must carry ?key= one of them
  std::vector<std::string> communities;    // when set, the only CommunityName values accepted
  std::size_t max_events = 0;              // most items one notification may hold
  std::string user;                        // drop root to this user after opening files
  std::string socket_group;                // group that may connect to a unix socket (nginx's)
  std::string spool_dir;                   // empty: no spool, Redis failures answer 503
  std::size_t spool_max_bytes = 0;
  std::string log_level;
  std::string web_actions;
  std::vector<std::string> signing_secrets;  // whsec_... for the workers' HTTP destinations                 // "on": the web view may requeue, purge and replay
};

// A bad setting, worded for the operator: BOARDHOOK_X="value": what is wrong.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One row of the settings table: everything about one environment variable.
struct Setting {
  enum class Kind { integer, size, text, list, redis_url, choice };
  enum class Secret { no, hidden, url };  // hidden: never shown; url: shown with its password masked
  using Member = std::variant<int Config::*, std::size_t Config::*, std::string Config::*,
                              std::vector<std::string> Config::*, RedisEndpoint Config::*>;
  using Check = const char* (*)(std::string_view value);  // a further rule for text and list items

  std::string_view name;
  Member member;
  Kind kind;
  std::int64_t min = 0, max = 0;   // integers and sizes (max 0: no upper bound for sizes)
  std::string_view default_value;  // as an operator writes it; empty: unset
  std::string_view when_unset;     // what unset means, as the README says it: "(none)", "(any)", ...
  Secret secret = Secret::no;
  bool from_file = false;          // <name>_FILE names a file holding the value instead
  Check check = nullptr;
  std::string_view choices_or_noun;  // choice: "debug|info|warn|error"; list: what an item is
  std::string_view description;      // one line
};

// The table, in README order.
std::span<const Setting> settings();

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Returns a file's contents, or nullopt with `error` set.
using FileReader = std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

// Builds the configuration from `lookup`; throws ConfigError on the first bad value.
// Only the handler needs a verify token (`require_token`); workers and tools share the rest.
Config load_config(const EnvLookup& lookup, const FileReader& read_file, bool require_token = true);

// One line for the start-up log: every setting, secrets as a count or "set".
std::string describe(const Config& config);

// Every variable name, in README order (a setting read from a file adds its <name>_FILE).
std::vector<std::string> setting_names();

// The README's "Default" cell of a variable: `value`, or what unset means.
std::string documented_default(std::string_view name);

}  // namespace boardhook::core
