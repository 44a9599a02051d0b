// repair.cpp -- boardhook-queues requeue, purge-dead and replay-rejected: what changes Redis.
#include <cstdio>

#include "core/json_escape.hpp"
#include "io/queue_actions.hpp"
#include "tools/session.hpp"

namespace boardhook::tools {

namespace {

// An action Redis could not carry out ends the command with exit 3.
const io::ActionResult& checked(const io::ActionResult& result) {
  if (!result.redis_error.empty()) throw Failure{exit_redis, result.redis_error};
  return result;
}

}  // namespace

int requeue(Session& session) {
  const std::string type = session.type_argument();
  session.require_yes("requeue");
  const io::ActionResult result = checked(io::requeue_dead(session.redis(), session.prefix(), type, session.options().id));
  if (session.options().json) std::printf("{\"requeued\":%zu}\n", result.count);
  else std::printf("requeued %zu dead letter(s) of %s to %s\n", result.count, type.c_str(), result.queue.c_str());
  return result.count == 0 ? exit_nothing : exit_ok;
}

int purge_dead(Session& session) {
  const std::string type = session.type_argument();
  session.require_yes("purge-dead");
  const io::ActionResult result = checked(io::purge_dead(session.redis(), session.prefix(), type));
  if (session.options().json) std::printf("{\"purged\":%zu}\n", result.count);
  else std::printf("purged %zu dead letter(s) of %s\n", result.count, type.c_str());
  return result.count == 0 ? exit_nothing : exit_ok;
}

int replay_rejected(Session& session) {
  const std::string& id = session.options().id;
  if (id.empty()) throw Failure{exit_usage, "replay-rejected needs --id REQUEST_ID"};
  session.require_yes("replay-rejected");
  const io::ActionResult result = checked(io::replay_rejected(session.redis(), session.config(), id, now_ms()));
  if (!result.found) throw Failure{exit_nothing, "no rejected request with id " + id};
  if (!result.refusal.empty()) throw Failure{exit_nothing, "request " + id + " is not replayed: " + result.refusal};
  if (session.options().json) std::printf("{\"stored\":%zu,\"queue\":%s}\n", result.count, core::json_string(result.queue).c_str());
  else std::printf("request %s replayed: %zu event(s) queued in %s\n", id.c_str(), result.count, result.queue.c_str());
  return exit_ok;
}

}  // namespace boardhook::tools
