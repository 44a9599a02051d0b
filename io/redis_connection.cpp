// redis_connection.cpp -- hiredis 0.14: connect with timeout, AUTH/SELECT, pipelined transactions.
#include "io/redis_connection.hpp"

#include <poll.h>
#include <sys/time.h>

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

// Reads one reply; nullptr on I/O error or timeout.
RedisReply read_reply(redisContext* context) {
  void* raw = nullptr;
  if (redisGetReply(context, &raw) != REDIS_OK) return nullptr;
  return RedisReply(static_cast<redisReply*>(raw));
}

bool is_error(const redisReply* reply) { return reply->type == REDIS_REPLY_ERROR; }

}  // namespace

RedisConnection::RedisConnection(const core::RedisEndpoint& endpoint, int timeout_ms, bool check_server)
    : endpoint_(endpoint), timeout_ms_(timeout_ms), check_server_(check_server) {}

RedisConnection::~RedisConnection() { drop(); }

void RedisConnection::drop() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

bool RedisConnection::connect(std::string& error) {
  const timeval timeout = to_timeval(timeout_ms_);
  context_ = endpoint_.is_unix_socket() ? redisConnectUnixWithTimeout(endpoint_.unix_path.c_str(), timeout)
                                        : redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, timeout);
  if (context_ == nullptr) {
    error = "cannot allocate a Redis context";
    return false;
  }
  if (context_->err != 0) {
    error = "connect: " + context_error(context_);
    drop();
    return false;
  }
  if (redisSetTimeout(context_, timeout) != REDIS_OK) {
    error = "setting the command timeout: " + context_error(context_);
    drop();
    return false;
  }
  std::vector<RedisCommand> setup;
  if (!endpoint_.password.empty()) {
    setup.push_back(endpoint_.username.empty() ? RedisCommand{"AUTH", endpoint_.password}
                                               : RedisCommand{"AUTH", endpoint_.username, endpoint_.password});
  }
  const std::string database = std::to_string(endpoint_.database);
  if (endpoint_.database != 0) setup.push_back({"SELECT", database});
  for (const RedisCommand& command : setup) append_command(context_, command);
  for (const RedisCommand& command : setup) {
    RedisReply reply = read_reply(context_);
    if (!reply || is_error(reply.get())) {
      error = std::string(command[0]) + ": " + (reply ? std::string(reply->str, reply->len) : context_error(context_));
      drop();
      return false;
    }
  }
  if (!check_server_) return true;
  return check_server(error);
}

bool RedisConnection::check_server(std::string& error) {
  append_command(context_, {"INFO", "memory"});
  append_command(context_, {"INFO", "persistence"});
  std::string info;
  for (int i = 0; i < 2; ++i) {
    RedisReply reply = read_reply(context_);
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
  RedisReply reply(static_cast<redisReply*>(redisCommand(context_, "PING")));
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

RedisReply RedisConnection::call(const RedisCommand& command, std::string& error) {
  if (context_ != nullptr && is_stale()) drop();
  if (context_ == nullptr && !connect(error)) return nullptr;
  append_command(context_, command);
  RedisReply reply = read_reply(context_);
  if (!reply) {
    error = context_error(context_);
    drop();
  }
  return reply;
}

RedisReply RedisConnection::call_transaction_replies(const std::vector<RedisCommand>& commands, std::string& error) {
  if (context_ != nullptr && is_stale()) drop();
  if (context_ == nullptr && !connect(error)) return nullptr;
  // A policy changed with CONFIG SET is noticed within a minute, not only at reconnect.
  if (check_server_ && std::chrono::steady_clock::now() - checked_at_ > std::chrono::minutes(1) && !check_server(error)) {
    return nullptr;
  }

  append_command(context_, {"MULTI"});
  for (const RedisCommand& command : commands) append_command(context_, command);
  append_command(context_, {"EXEC"});

  // Every reply must be read, even after a failure, or the next transaction would read
  // this one's leftovers; an I/O error ends that by dropping the connection.
  std::string queue_error;
  for (std::size_t i = 0; i < commands.size() + 1; ++i) {
    RedisReply reply = read_reply(context_);
    if (!reply) {
      error = context_error(context_);
      drop();
      return nullptr;
    }
    if (is_error(reply.get()) && queue_error.empty()) queue_error = reply_text(*reply);
  }
  RedisReply exec = read_reply(context_);
  if (!exec) {
    error = context_error(context_);
    drop();
    return nullptr;
  }
  if (!queue_error.empty()) {
    error = queue_error;
    return nullptr;
  }
  if (is_error(exec.get())) {
    error = reply_text(*exec);
    return nullptr;
  }
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size()) {
    error = "EXEC was aborted";
    return nullptr;
  }
  return exec;
}

RedisReply RedisConnection::call_transaction(const std::vector<RedisCommand>& commands, std::string& error) {
  RedisReply exec = call_transaction_replies(commands, error);
  if (!exec) return nullptr;
  for (std::size_t i = 0; i < exec->elements; ++i) {
    if (is_error(exec->element[i])) {
      error = reply_text(*exec->element[i]);
      return nullptr;
    }
  }
  return exec;
}

bool RedisConnection::run_transaction(const std::vector<RedisCommand>& commands, std::string& error) {
  return call_transaction(commands, error) != nullptr;
}

}  // namespace boardhook::io
