// redis_connection.cpp -- hiredis 0.14: connect with timeout, AUTH/SELECT, pipelined transactions.
#include "io/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
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
    Reply reply = read_reply(context_);
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
  return to_value(*reply);
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
    return std::nullopt;
  }
  if (is_error(exec.get())) {
    error = reply_text(*exec);
    return std::nullopt;
  }
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size()) {
    error = "EXEC was aborted";
    return std::nullopt;
  }
  return std::move(to_value(*exec).elements);
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
