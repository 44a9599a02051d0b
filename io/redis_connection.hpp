// redis_connection.hpp -- one hiredis connection with timeouts, MULTI/EXEC in one round trip.
//
// Follows hiredis's own rule: a context that reported an error is freed and a new one is
// made on the next call, never reused.
#pragma once
#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/writes.hpp"

namespace boardhook::io {

using RedisCommand = core::RedisCommand;

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// The text of a string, status or error reply.
inline std::string reply_text(const redisReply& reply) { return std::string(reply.str, reply.len); }

class RedisConnection {
 public:
  // Every new connection is checked with INFO before use, and again every minute: a server
  // that may evict keys is refused (the call fails with the reason, which is logged once a
  // minute), one without AOF gets a warning in the log.
  // `check_server` is off for readers (workers, tools), which do not add to the queues.
  RedisConnection(const core::RedisEndpoint& endpoint, int timeout_ms, bool check_server = true);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs `commands` inside MULTI/EXEC, pipelined. Returns true only when EXEC ran every
  // command without an error reply; otherwise false with `error` set (the connection is
  // then dropped, to be remade on the next call).
  bool run_transaction(const std::vector<RedisCommand>& commands, std::string& error);

  // Connects when needed (checking the server, see above) and sends PING.
  bool ping(std::string& error);

  // Sends one command and returns its reply (an error reply is a reply); nullptr with
  // `error` set when the connection failed (it is then dropped). The timeout must exceed
  // any blocking timeout in the command.
  RedisReply call(const RedisCommand& command, std::string& error);

  // Runs several commands inside MULTI/EXEC and returns EXEC's reply array; nullptr with
  // `error` set on any failure.
  RedisReply call_transaction(const std::vector<RedisCommand>& commands, std::string& error);

  // As call_transaction, but an error reply of a command inside EXEC is returned in the
  // array rather than failing the call: for batches whose commands succeed or fail apart.
  // nullptr only when EXEC did not run every command (I/O error, a command refused when
  // queued, EXECABORT): then none of them ran, or the connection failed and their fate is
  // unknown.
  RedisReply call_transaction_replies(const std::vector<RedisCommand>& commands, std::string& error);

 private:
  bool connect(std::string& error);
  bool check_server(std::string& error);
  bool is_stale() const;
  void drop();

  core::RedisEndpoint endpoint_;
  int timeout_ms_;
  bool check_server_;
  redisContext* context_ = nullptr;
  std::chrono::steady_clock::time_point checked_at_;
};

}  // namespace boardhook::io
