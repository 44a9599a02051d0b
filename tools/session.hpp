// session.hpp -- what every boardhook-queues subcommand works with: the configuration, the options,
// one Redis connection with calls that turn failures into exit codes, and the shared argument rules.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::tools {

// Exit codes, so scripts can tell outcomes apart.
inline constexpr int exit_ok = 0;
inline constexpr int exit_nothing = 1;    // nothing matched, or a replay was refused again
inline constexpr int exit_usage = 2;
inline constexpr int exit_redis = 3;      // Redis unavailable or answered an error
inline constexpr int exit_needs_yes = 4;  // a destructive subcommand without --yes

// Ends a subcommand with an exit code and a message for stderr.
struct Failure {
  int code;
  std::string message;
};

struct Options {
  bool json = false, yes = false, watch = false, newest = false, dry_run = false;
  double interval = 2.0;
  std::string id, spool_dir;
  std::string since, until, error_text, exit_code, http_status;  // requeue's filters
  std::vector<std::string> words;  // the subcommand and its positional arguments
};

class Session {
 public:
  Session(const core::Config& config, Options options);

  const core::Config& config() const { return config_; }
  const Options& options() const { return options_; }
  const std::string& prefix() const { return config_.queue_prefix; }
  io::RedisConnection& redis() { return redis_; }

  // One command; a failed connection or an error reply throws Failure{exit_redis}.
  io::RedisValue call(const io::RedisCommand& command);
  std::int64_t integer(const io::RedisCommand& command) { return call(command).as_integer().value_or(0); }
  std::vector<std::string> strings(const io::RedisCommand& command) { return call(command).texts(); }
  std::optional<std::string> text(const io::RedisCommand& command) { return call(command).as_text(); }
  // A transaction; any failure throws Failure{exit_redis}.
  void run_transaction(const std::vector<io::RedisCommand>& commands);

  // The positional argument at `position` as a count 1-100000, or `fallback` when absent.
  std::size_t count_argument(std::size_t position, std::size_t fallback) const;
  // The event type named by the first argument, written as it is or with %XX escapes.
  std::string type_argument() const;
  // Throws Failure{exit_needs_yes} unless --yes was given.
  void require_yes(const std::string& what) const;

 private:
  const core::Config& config_;
  Options options_;
  io::RedisConnection redis_;
};

std::int64_t now_ms();

// Prints raw JSON texts as one JSON array (so stored bytes stay exactly as stored).
void print_json_array(const std::vector<std::string>& texts);

// The subcommands, one function each.
int stats(Session& session);
int peek(Session& session);
int dead(Session& session);
int rejected(Session& session);
int requeue(Session& session);
int purge_dead(Session& session);
int replay_rejected(Session& session);
int doctor(Session& session);
int pause(Session& session);
int resume(Session& session);

}  // namespace boardhook::tools
