// ingest.cpp -- EVAL of the ingest script, then WAIT, pipelined.
#include "io/ingest.hpp"

namespace boardhook::io {

std::optional<IngestResult> run_ingest(RedisConnection& redis, const core::IngestCommand& command, int min_replicas,
                                       int wait_timeout_ms, std::string& error) {
  std::vector<RedisCommand> commands = command.transaction.commands;
  const std::string replicas_text = std::to_string(min_replicas), timeout_text = std::to_string(wait_timeout_ms);
  // WAIT after the script on the same connection: it waits for the replication of this
  // connection's writes so far, the script's among them.
  if (min_replicas > 0) commands.push_back({"WAIT", replicas_text, timeout_text});
  const auto replies = redis.pipeline(commands, error);
  if (!replies) return std::nullopt;
  const RedisValue& script = replies->front();
  if (script.is_error()) {
    error = script.text;
    return std::nullopt;
  }
  if (script.kind != RedisValue::Kind::array || script.elements.size() != command.groups) {
    error = "the ingest script answered something unexpected";
    return std::nullopt;
  }
  IngestResult result;
  for (const RedisValue& group : script.elements) {
    IngestGroupResult& outcome = result.groups.emplace_back();
    const bool ok = group.elements.size() == 3 && group.elements[0].as_integer() == 1;
    outcome.stored = ok;
    if (ok) {
      outcome.queued = group.elements[1].as_integer().value_or(0);
      outcome.duplicates = group.elements[2].as_integer().value_or(0);
    } else {
      outcome.error = group.elements.size() == 2 ? group.elements[1].text : "the ingest script answered something unexpected";
    }
  }
  if (min_replicas > 0) {
    result.replicas = replies->back().as_integer().value_or(0);
    result.replicated = result.replicas >= min_replicas;
  }
  return result;
}

}  // namespace boardhook::io
