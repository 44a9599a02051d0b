// redis_connection.cpp -- hiredis 0.14: connect with timeout, AUTH/SELECT, pipelined transactions.
#include "io/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <memory>

#include "core/redis_health.hpp"
#include "io/log.hpp"

namespace boardhook::io {

namespace {

timeval to_timeval(int ms) { return {ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)}; }

std::string context_error(const redisContext* context) {
  return context->errstr[0] != '\0' ? std::string(context->errstr) : std::string("I/O error");
}

void append_command(redisContext* context, const RedisCommand& command) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(command.size());
  lengths.reserve(command.size());
  for (std::string_view part : command) {
    argv.push_back(part.data());
    lengths.push_back(part.size());
  }
  redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Reads one reply; nullptr on I/O error or timeout.
Reply read_reply(redisContext* context) {
  void* raw = nullptr;
  if (redisGetReply(context, &raw) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(raw));
}

bool is_error(const redisReply* reply) { return reply->type == REDIS_REPLY_ERROR; }

std::string reply_text(const redisReply& reply) { return std::string(reply.str, reply.len); }

RedisValue to_value(const redisReply& reply) {
  RedisValue value;
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      value.kind = RedisValue::Kind::integer;
      value.integer = reply.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      value.kind = RedisValue::Kind::text;
      value.text = reply_text(reply);
      break;
    case REDIS_REPLY_ERROR:
      value.kind = RedisValue::Kind::error;
      value.text = reply_text(reply);
      break;
    case REDIS_REPLY_ARRAY:
      value.kind = RedisValue::Kind::array;
      value.elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) value.elements.push_back(to_value(*reply.element[i]));
      break;
    default:
      break;  // nil
  }
  return value;
}


// Opens a context to host:port (or the unix socket) with the timeouts set; nullptr with `error`.
redisContext* open_context(const std::string& host, int port, const std::string& unix_path, int timeout_ms, std::string& error) {
  const timeval timeout = to_timeval(timeout_ms);
  redisContext* context = unix_path.empty() ? redisConnectWithTimeout(host.c_str(), port, timeout)
                                            : redisConnectUnixWithTimeout(unix_path.c_str(), timeout);
  if (context == nullptr) {
    error = "cannot allocate a Redis context";
    return nullptr;
  }
  if (context->err != 0) {
    error = "connect to " + (unix_path.empty() ? host + ":" + std::to_string(port) : unix_path) + ": " + context_error(context);
    redisFree(context);
    return nullptr;
  }
  if (redisSetTimeout(context, timeout) != REDIS_OK) {
    error = "setting the command timeout: " + context_error(context);
    redisFree(context);
    return nullptr;
  }
  // Unacknowledged data is given up after the command timeout too (a cut network), rather than
  // retransmitted for minutes.
  if (unix_path.empty()) {
    const unsigned int user_timeout = static_cast<unsigned int>(timeout_ms);
    setsockopt(context->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
  }
  return context;
}

// Sends `commands` and reads their replies; false with `error` at the first failure or error reply.
bool run_setup(redisContext* context, const std::vector<RedisCommand>& commands, std::string& error,
               std::vector<Reply>* replies = nullptr) {
  for (const RedisCommand& command : commands) append_command(context, command);
  bool ok = true;
  for (const RedisCommand& command : commands) {
    Reply reply = read_reply(context);
    if (!reply) {
      error = std::string(command[0]) + ": " + context_error(context);
      return false;  // the rest cannot be read
    }
    if (ok && is_error(reply.get())) {
      error = std::string(command[0]) + ": " + reply_text(*reply);
      ok = false;
    }
    if (replies != nullptr) replies->push_back(std::move(reply));
  }
  return ok;
}

std::vector<RedisCommand> login(const std::string& username, const std::string& password) {
  if (password.empty()) return {};
  return {username.empty() ? RedisCommand{"AUTH", password} : RedisCommand{"AUTH", username, password}};
}

}  // namespace

std::optional<std::int64_t> RedisValue::as_integer() const {
  if (kind != Kind::integer) return std::nullopt;
  return integer;
}

std::optional<std::string> RedisValue::as_text() const {
  if (kind != Kind::text) return std::nullopt;
  return text;
}

std::vector<std::string> RedisValue::texts() const {
  std::vector<std::string> out;
  for (const RedisValue& element : elements) {
    if (element.kind == Kind::text) out.push_back(element.text);
  }
  return out;
}

RedisConnection::RedisConnection(const core::RedisEndpoint& endpoint, int timeout_ms, bool check_server)
    : endpoint_(endpoint), timeout_ms_(timeout_ms), check_server_(check_server) {}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) redisFree(context_);
}

// Every drop but the destructor's follows a failure: the socket is reset, not closed, so that the
// kernel forgets what it still holds unsent. A command given up on during a network cut would
// otherwise be retransmitted, and run, after the cut heals: a batch answered from the spool
// meanwhile, or an LMOVE for a consumer no longer waiting.
void RedisConnection::drop() {
  if (context_ == nullptr) return;
  if (context_->fd >= 0) {
    const linger reset{1, 0};
    setsockopt(context_->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  redisFree(context_);
  context_ = nullptr;
}


// Asks the Sentinels, from the one that answered last, where the primary is. Each is given at
// most a second: a Sentinel cut off by a partition does not answer at all.
bool RedisConnection::discover_primary(std::string& host, int& port, std::string& error) {
  const std::size_t count = endpoint_.sentinels.size();
  std::string reasons;
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t index = (next_sentinel_ + k) % count;
    const core::HostPort& sentinel = endpoint_.sentinels[index];
    std::string problem;
    redisContext* context = open_context(sentinel.host, sentinel.port, "", std::min(timeout_ms_, 1000), problem);
    if (context != nullptr) {
      std::vector<RedisCommand> ask = login(endpoint_.sentinel_username, endpoint_.sentinel_password);
      ask.push_back({"SENTINEL", "get-master-addr-by-name", endpoint_.master_name});
      std::vector<Reply> replies;
      const bool answered = run_setup(context, ask, problem, &replies);
      redisFree(context);
      const redisReply* address = answered ? replies.back().get() : nullptr;
      if (address != nullptr && address->type == REDIS_REPLY_ARRAY && address->elements == 2) {
        host = reply_text(*address->element[0]);
        port = std::atoi(reply_text(*address->element[1]).c_str());
        next_sentinel_ = index;
        return true;
      }
      if (answered) problem = "knows no primary named \"" + endpoint_.master_name + "\"";
    }
    reasons += (reasons.empty() ? "" : "; ") + sentinel.host + ":" + std::to_string(sentinel.port) + ": " + problem;
  }
  error = "no Sentinel named the primary (" + reasons + ")";
  return false;
}

bool RedisConnection::connect(std::string& error) {
  // Right after an attempt that failed slowly (a timeout: Sentinels or a primary cut off by a
  // partition), fail at once for a moment: under load every request would otherwise wait for the
  // same timeouts again. One refused at once is tried again at once.
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) {
    error = last_connect_error_;
    return false;
  }
  if (!connect_once(error)) {
    if (std::chrono::steady_clock::now() - now > std::chrono::milliseconds(100)) {
      last_connect_error_ = error;
      retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    }
    return false;
  }
  return true;
}

bool RedisConnection::connect_once(std::string& error) {
  std::string host = endpoint_.host;
  int port = endpoint_.port;
  if (endpoint_.is_sentinel() && !discover_primary(host, port, error)) return false;
  context_ = open_context(host, port, endpoint_.unix_path, timeout_ms_, error);
  if (context_ == nullptr) return false;
  address_ = endpoint_.is_unix_socket() ? endpoint_.unix_path : host + ":" + std::to_string(port);
  std::vector<RedisCommand> setup = login(endpoint_.username, endpoint_.password);
  const std::string database = std::to_string(endpoint_.database);
  if (endpoint_.database != 0) setup.push_back({"SELECT", database});
  if (!run_setup(context_, setup, error)) {
    drop();
    return false;
  }
  // A demoted primary must never take a write: what a Sentinel named is checked before use.
  if (endpoint_.is_sentinel() && !is_primary(error)) {
    error = host + ":" + std::to_string(port) + " " + error;
    forget_primary();
    return false;
  }
  if (!check_server_) return true;
  return check_server(error);
}

bool RedisConnection::is_primary(std::string& error) {
  std::vector<Reply> replies;
  if (!run_setup(context_, {{"ROLE"}}, error, &replies)) return false;
  const redisReply* role = replies.back().get();
  if (role->type == REDIS_REPLY_ARRAY && role->elements > 0 && reply_text(*role->element[0]) == "master") return true;
  error = "is not a primary (ROLE says " +
          (role->type == REDIS_REPLY_ARRAY && role->elements > 0 ? reply_text(*role->element[0]) : std::string("?")) + ")";
  return false;
}

// The primary this connection used is not one (any more): drop it, and ask another Sentinel first
// next time, so that one left behind by a partition, still naming the old primary, is passed over.
void RedisConnection::forget_primary() {
  drop();
  if (endpoint_.is_sentinel()) next_sentinel_ = (next_sentinel_ + 1) % endpoint_.sentinels.size();
}

// Errors that say the server cannot take writes as a primary: after a failover (READONLY: it is
// a replica now), cut off from its replicas (NOREPLICAS), or blocked clients unblocked by a role
// change (UNBLOCKED). The connection is given up, so the next call finds the primary again.
void RedisConnection::notice_error_reply(std::string_view text) {
  for (const std::string_view code : {"READONLY", "NOREPLICAS", "UNBLOCKED", "MASTERDOWN", "LOADING", "EXECABORT"}) {
    if (!text.starts_with(code)) continue;
    // EXECABORT comes with a NOREPLICAS or READONLY of a queued command; it is a primary problem
    // only then, which the queued reply already told.
    if (code != "EXECABORT") forget_primary();
    return;
  }
}

bool RedisConnection::check_server(std::string& error) {
  if (endpoint_.is_sentinel() && !is_primary(error)) {
    forget_primary();
    return false;
  }
  append_command(context_, {"INFO", "memory"});
  append_command(context_, {"INFO", "persistence"});
  std::string info;
  for (int i = 0; i < 2; ++i) {
    Reply reply = read_reply(context_);
    if (!reply || (reply->type != REDIS_REPLY_STRING)) {
      error = "INFO: " + (reply && is_error(reply.get()) ? std::string(reply->str, reply->len) : context_error(context_));
      drop();
      return false;
    }
    info.append(reply->str, reply->len);
  }
  const core::RedisHealth health = core::assess_redis(info);
  static io::LogThrottle warning_throttle;
  for (const std::string& warning : health.warnings) {
    if (warning_throttle.should_log(std::chrono::minutes(1))) spdlog::warn("redis persistence: {}", warning);
  }
  if (!health.may_queue) {
    error = "refusing to queue in this Redis: " + health.refusal;
    static io::LogThrottle refusal_throttle;
    if (refusal_throttle.should_log(std::chrono::minutes(1))) spdlog::error("redis check: {}; events go to the spool", error);
    drop();
    return false;
  }
  checked_at_ = std::chrono::steady_clock::now();
  return true;
}

bool RedisConnection::ping(std::string& error) {
  if (context_ != nullptr && is_stale()) drop();
  if (context_ == nullptr && !connect(error)) return false;
  Reply reply(static_cast<redisReply*>(redisCommand(context_, "PING")));
  if (!reply) {
    error = context_error(context_);
    drop();
    return false;
  }
  return true;
}

// An idle connection has nothing to read; if it has (EOF after a Redis restart, an error
// reply pushed before close) it is stale. Found before sending, it is safely replaced;
// found after, the transaction's fate would be unknown.
bool RedisConnection::is_stale() const {
  pollfd descriptor{context_->fd, POLLIN, 0};
  return poll(&descriptor, 1, 0) != 0;
}

std::optional<RedisValue> RedisConnection::call(const RedisCommand& command, std::string& error) {
  if (context_ != nullptr && is_stale()) drop();
  if (context_ == nullptr && !connect(error)) return std::nullopt;
  append_command(context_, command);
  Reply reply = read_reply(context_);
  if (!reply) {
    error = context_error(context_);
    drop();
    return std::nullopt;
  }
  if (is_error(reply.get())) notice_error_reply(reply_text(*reply));
  return to_value(*reply);
}

std::optional<std::vector<RedisValue>> RedisConnection::pipeline(const std::vector<RedisCommand>& commands, std::string& error) {
  if (context_ != nullptr && is_stale()) drop();
  if (context_ == nullptr && !connect(error)) return std::nullopt;
  for (const RedisCommand& command : commands) append_command(context_, command);
  std::vector<RedisValue> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    Reply reply = read_reply(context_);
    if (!reply) {
      error = context_error(context_);
      drop();
      return std::nullopt;
    }
    replies.push_back(to_value(*reply));
  }
  // Looked at after every reply is read: dropping the connection earlier would lose the rest.
  for (const RedisValue& reply : replies) {
    if (reply.is_error()) notice_error_reply(reply.text);
  }
  return replies;
}

std::optional<std::vector<RedisValue>> RedisConnection::transaction_replies(const std::vector<RedisCommand>& commands,
                                                                           std::string& error) {
  if (context_ != nullptr && is_stale()) drop();
  if (context_ == nullptr && !connect(error)) return std::nullopt;
  // A policy changed with CONFIG SET is noticed within a minute, not only at reconnect.
  if (check_server_ && std::chrono::steady_clock::now() - checked_at_ > std::chrono::minutes(1) && !check_server(error)) {
    return std::nullopt;
  }

  append_command(context_, {"MULTI"});
  for (const RedisCommand& command : commands) append_command(context_, command);
  append_command(context_, {"EXEC"});

  // Every reply must be read, even after a failure, or the next transaction would read
  // this one's leftovers; an I/O error ends that by dropping the connection.
  std::string queue_error;
  for (std::size_t i = 0; i < commands.size() + 1; ++i) {
    Reply reply = read_reply(context_);
    if (!reply) {
      error = context_error(context_);
      drop();
      return std::nullopt;
    }
    if (is_error(reply.get()) && queue_error.empty()) queue_error = reply_text(*reply);
  }
  Reply exec = read_reply(context_);
  if (!exec) {
    error = context_error(context_);
    drop();
    return std::nullopt;
  }
  if (!queue_error.empty()) {
    error = queue_error;
    notice_error_reply(queue_error);
    return std::nullopt;
  }
  if (is_error(exec.get())) {
    error = reply_text(*exec);
    notice_error_reply(error);
    return std::nullopt;
  }
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size()) {
    error = "EXEC was aborted";
    return std::nullopt;
  }
  std::vector<RedisValue> replies = std::move(to_value(*exec).elements);
  for (const RedisValue& reply : replies) {
    if (reply.is_error()) notice_error_reply(reply.text);
  }
  return replies;
}

std::optional<std::vector<RedisValue>> RedisConnection::transaction(const std::vector<RedisCommand>& commands,
                                                                   std::string& error) {
  auto replies = transaction_replies(commands, error);
  if (!replies) return std::nullopt;
  for (const RedisValue& reply : *replies) {
    if (reply.is_error()) {
      error = reply.text;
      return std::nullopt;
    }
  }
  return replies;
}

}  // namespace boardhook::io
