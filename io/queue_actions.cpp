// queue_actions.cpp -- requeue, purge and replay, as scripts and transactions on Redis.
#include "io/queue_actions.hpp"

#include "core/dead_letter.hpp"
#include "core/decide.hpp"
#include "core/envelope.hpp"
#include "core/ingest.hpp"
#include "core/job_outcome.hpp"
#include "core/keys.hpp"
#include "core/rejected_record.hpp"

namespace boardhook::io {

namespace {

// Moves one dead letter back to the consuming end of its queue, only if it is still there.
constexpr const char* requeue_script =
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "  redis.call('HDEL', KEYS[3], ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

constexpr const char* purge_script = "local n = redis.call('LLEN', KEYS[1]) redis.call('DEL', KEYS[1]) return n";

// One command whose failure (the connection, or an error reply) ends the action.
std::optional<RedisValue> call(RedisConnection& redis, const RedisCommand& command, ActionResult& result) {
  std::string error;
  auto reply = redis.call(command, error);
  if (!reply) result.redis_error = "redis unavailable: " + error;
  else if (reply->is_error()) result.redis_error = "redis: " + reply->text;
  else return reply;
  return std::nullopt;
}

}  // namespace

ActionResult requeue_dead(RedisConnection& redis, const std::string& prefix, const std::string& event_type,
                          const core::DeadFilter& filter, bool dry_run) {
  ActionResult result;
  const std::string dead_list = core::dead_key(prefix, event_type);
  const std::string queue = core::queue_key(prefix, event_type);
  const std::string attempts = core::attempts_key(prefix, event_type);
  const auto records = call(redis, {"LRANGE", dead_list, "0", "-1"}, result);
  if (!records) return result;
  result.queue = queue;
  for (const std::string& text : records->texts()) {
    const auto record = core::parse_dead_record(text);
    const auto summary = record ? core::parse_envelope(record->envelope) : std::nullopt;
    if (!summary || !filter.matches(*record, summary->id)) continue;
    if (dry_run) {
      ++result.count;
      if (result.sample.size() < 5) result.sample.push_back(text);
      continue;
    }
    const auto moved = call(redis, {"EVAL", requeue_script, "3", dead_list, queue, attempts, text, record->envelope,
                                    core::attempts_field(*summary)}, result);
    if (!moved) return result;
    result.count += static_cast<std::size_t>(moved->as_integer().value_or(0));
  }
  return result;
}

ActionResult purge_dead(RedisConnection& redis, const std::string& prefix, const std::string& event_type) {
  ActionResult result;
  if (const auto purged = call(redis, {"EVAL", purge_script, "1", core::dead_key(prefix, event_type)}, result)) {
    result.count = static_cast<std::size_t>(purged->as_integer().value_or(0));
  }
  return result;
}

ActionResult replay_rejected(RedisConnection& redis, const core::Config& config, const std::string& request_id,
                             std::int64_t now_ms) {
  ActionResult result;
  const std::string rejected_list = core::rejected_key(config.queue_prefix);
  const auto records = call(redis, {"LRANGE", rejected_list, "0", "-1"}, result);
  if (!records) return result;
  for (const std::string& text : records->texts()) {
    const auto record = core::parse_rejected_record(text);
    if (!record || record->request_id != request_id) continue;
    const core::ReplayDecision replay = core::decide_replay(*record, config, now_ms);
    if (!replay.store) {
      result.refusal = replay.refusal;
      return result;
    }
    const core::StoreEvents* const stores[] = {&*replay.store};
    core::IngestCommand ingest = core::ingest_command_for(stores, config.dedup_seconds, core::seen_key_prefix(config.queue_prefix));
    ingest.transaction.commands.push_back({"LREM", rejected_list, "1", text});
    std::string error;
    const auto replies = redis.transaction(ingest.transaction.commands, error);
    const RedisValue* group = replies && !replies->front().elements.empty() ? &replies->front().elements.front() : nullptr;
    if (group == nullptr || group->elements.empty() || group->elements[0].as_integer() != 1) {
      result.redis_error = "redis: " + (group != nullptr && group->elements.size() == 2 ? group->elements[1].text : error);
      return result;
    }
    result.count = replay.store->envelopes.size();
    result.queue = replay.store->queue_key;
    return result;
  }
  result.found = false;
  return result;
}

}  // namespace boardhook::io
