// redis_connection.hpp -- one hiredis connection with timeouts, MULTI/EXEC in one round trip, and
// replies as plain values (RedisValue): no caller looks at hiredis's reply types.
//
// Follows hiredis's own rule: a context that reported an error is freed and a new one is
// made on the next call, never reused.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/writes.hpp"

struct redisContext;

namespace boardhook::io {

using RedisCommand = core::RedisCommand;

// A reply: nil, an integer, a text (bulk string or status), an error, or an array of replies.
struct RedisValue {
  enum class Kind { nil, integer, text, error, array };
  Kind kind = Kind::nil;
  std::int64_t integer = 0;
  std::string text;                  // a text's bytes, or an error's message
  std::vector<RedisValue> elements;  // an array's replies

  bool is_nil() const { return kind == Kind::nil; }
  bool is_error() const { return kind == Kind::error; }
  std::optional<std::int64_t> as_integer() const;
  std::optional<std::string> as_text() const;  // a text only (not an error)
  std::vector<std::string> texts() const;      // the texts of an array, in order (other kinds skipped)
};

class RedisConnection {
 public:
  // With a redis-sentinel:// endpoint the primary is asked of the Sentinels at each (re)connect
  // and checked with ROLE; an error reply that says the server is no primary (READONLY,
  // NOREPLICAS, UNBLOCKED, ...) drops the connection, so the next call finds the primary again.
  // A connect that failed slowly (timed out) is not retried for 250 ms: calls meanwhile fail at
  // once with its reason.
  // Every new connection is checked with INFO before use, and again every minute: a server
  // that may evict keys is refused (the call fails with the reason, which is logged once a
  // minute), one without AOF gets a warning in the log.
  // `check_server` is off for readers (workers, tools), which do not add to the queues.
  RedisConnection(const core::RedisEndpoint& endpoint, int timeout_ms, bool check_server = true);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects when needed (checking the server, see above) and sends PING.
  bool ping(std::string& error);

  // Sends one command and returns its reply (an error reply is a reply); nullopt with `error`
  // set when the connection failed (it is then dropped). The timeout must exceed any blocking
  // timeout in the command.
  std::optional<RedisValue> call(const RedisCommand& command, std::string& error);

  // Runs `commands` inside MULTI/EXEC, pipelined, and returns EXEC's replies, one per command.
  // An error reply of a command inside EXEC is returned among them: for batches whose commands
  // succeed or fail apart. nullopt with `error` set only when EXEC did not run every command
  // (I/O error, a command refused when queued, EXECABORT): then none of them ran, or the
  // connection failed and their fate is unknown.
  std::optional<std::vector<RedisValue>> transaction_replies(const std::vector<RedisCommand>& commands, std::string& error);

  // As transaction_replies, but any error reply fails the call (its message in `error`).
  std::optional<std::vector<RedisValue>> transaction(const std::vector<RedisCommand>& commands, std::string& error);

  // host:port (or the socket path) of the server this connection last reached: with Sentinel, the
  // primary they named. "" before the first connect.
  const std::string& address() const { return address_; }

  // Sends `commands` in one round trip (no MULTI) and returns their replies; nullopt with `error`
  // only when the connection failed.
  std::optional<std::vector<RedisValue>> pipeline(const std::vector<RedisCommand>& commands, std::string& error);

  // True only when EXEC ran every command without an error reply.
  bool run_transaction(const std::vector<RedisCommand>& commands, std::string& error) {
    return transaction(commands, error).has_value();
  }

 private:
  bool connect(std::string& error);
  bool connect_once(std::string& error);
  bool discover_primary(std::string& host, int& port, std::string& error);
  bool is_primary(std::string& error);
  void forget_primary();
  void notice_error_reply(std::string_view text);
  bool check_server(std::string& error);
  bool is_stale() const;
  void drop();

  core::RedisEndpoint endpoint_;
  int timeout_ms_;
  bool check_server_;
  redisContext* context_ = nullptr;
  std::chrono::steady_clock::time_point checked_at_;
  std::size_t next_sentinel_ = 0;                    // the Sentinel asked first
  std::chrono::steady_clock::time_point retry_at_;  // no connect before this
  std::string last_connect_error_;
  std::string address_;
};

}  // namespace boardhook::io
