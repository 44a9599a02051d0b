// repair.cpp -- boardhook-queues requeue, purge-dead and replay-rejected: what changes Redis.
#include <cstdio>

#include "core/dead_letter.hpp"
#include "core/decide.hpp"
#include "core/envelope.hpp"
#include "core/ingest.hpp"
#include "core/job_outcome.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
#include "core/rejected_record.hpp"
#include "tools/session.hpp"

namespace boardhook::tools {

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

}  // namespace

int requeue(Session& session) {
  const std::string type = session.type_argument();
  session.require_yes("requeue");
  const std::string dead_list = core::dead_key(session.prefix(), type);
  const std::string queue = core::queue_key(session.prefix(), type);
  const std::string attempts = core::attempts_key(session.prefix(), type);
  const std::string& only_id = session.options().id;
  std::size_t moved = 0;
  for (const std::string& text : session.strings({"LRANGE", dead_list, "0", "-1"})) {
    const auto record = core::parse_dead_record(text);
    const auto summary = record ? core::parse_envelope(record->envelope) : std::nullopt;
    if (!summary || (!only_id.empty() && summary->id != only_id)) continue;
    moved += static_cast<std::size_t>(
        session.integer({"EVAL", requeue_script, "3", dead_list, queue, attempts, text, record->envelope, core::attempts_field(*summary)}));
  }
  if (session.options().json) std::printf("{\"requeued\":%zu}\n", moved);
  else std::printf("requeued %zu dead letter(s) of %s to %s\n", moved, type.c_str(), queue.c_str());
  return moved == 0 ? exit_nothing : exit_ok;
}

int purge_dead(Session& session) {
  const std::string type = session.type_argument();
  session.require_yes("purge-dead");
  const long long purged = session.integer({"EVAL", purge_script, "1", core::dead_key(session.prefix(), type)});
  if (session.options().json) std::printf("{\"purged\":%lld}\n", purged);
  else std::printf("purged %lld dead letter(s) of %s\n", purged, type.c_str());
  return purged == 0 ? exit_nothing : exit_ok;
}

int replay_rejected(Session& session) {
  const std::string& id = session.options().id;
  if (id.empty()) throw Failure{exit_usage, "replay-rejected needs --id REQUEST_ID"};
  session.require_yes("replay-rejected");
  const std::string rejected_list = core::rejected_key(session.prefix());
  for (const std::string& text : session.strings({"LRANGE", rejected_list, "0", "-1"})) {
    const auto record = core::parse_rejected_record(text);
    if (!record || record->request_id != id) continue;
    const core::ReplayDecision replay = core::decide_replay(*record, session.config(), now_ms());
    if (!replay.store) throw Failure{exit_nothing, "request " + id + " is not replayed: " + replay.refusal};
    // Queued through the ingest script, and the record removed, in one MULTI/EXEC.
    const core::StoreEvents* const stores[] = {&*replay.store};
    core::IngestCommand ingest = core::ingest_command_for(stores, session.config().dedup_seconds,
                                                          core::seen_key_prefix(session.prefix()));
    ingest.transaction.commands.push_back({"LREM", rejected_list, "1", text});
    std::string error;
    const auto replies = session.redis().transaction(ingest.transaction.commands, error);
    const auto* group = replies && !replies->front().elements.empty() ? &replies->front().elements.front() : nullptr;
    if (group == nullptr || group->elements.empty() || group->elements[0].as_integer() != 1) {
      throw Failure{exit_redis, "redis: " + (group != nullptr && group->elements.size() == 2 ? group->elements[1].text : error)};
    }
    const std::size_t stored = replay.store->envelopes.size();
    if (session.options().json) std::printf("{\"stored\":%zu,\"queue\":%s}\n", stored, core::json_string(replay.store->queue_key).c_str());
    else std::printf("request %s replayed: %zu event(s) queued in %s\n", id.c_str(), stored, replay.store->queue_key.c_str());
    return exit_ok;
  }
  throw Failure{exit_nothing, "no rejected request with id " + id};
}

}  // namespace boardhook::tools
