// repair.cpp -- boardhook-queues requeue, purge-dead and replay-rejected: what changes Redis.
#include <cstdio>

#include <cstdlib>

#include "core/dead_letter.hpp"
#include "core/envelope.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
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

// The dead letters requeue selects: --id, --since, --until, --error, --exit-code, --http-status.
core::DeadFilter dead_filter(const Options& options) {
  core::DeadFilter filter;
  filter.event_id = options.id;
  filter.error_contains = options.error_text;
  const auto time = [](const std::string& text, const char* flag) -> std::optional<std::int64_t> {
    if (text.empty()) return std::nullopt;
    const auto at = core::parse_time_argument(text, now_ms());
    if (!at) throw Failure{exit_usage, std::string(flag) + " \"" + text + "\": expected RFC 3339 or an age (90s, 30m, 2h, 7d)"};
    return at;
  };
  const auto number = [](const std::string& text, const char* flag) -> std::optional<int> {
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || value < 0 || value > 999) throw Failure{exit_usage, std::string(flag) + " \"" + text + "\": expected a number"};
    return static_cast<int>(value);
  };
  filter.since_ms = time(options.since, "--since");
  filter.until_ms = time(options.until, "--until");
  filter.exit_code = number(options.exit_code, "--exit-code");
  filter.http_status = number(options.http_status, "--http-status");
  return filter;
}

int requeue(Session& session) {
  const std::string type = session.type_argument();
  const core::DeadFilter filter = dead_filter(session.options());
  const bool dry_run = session.options().dry_run;
  if (!dry_run) session.require_yes("requeue");
  const io::ActionResult result = checked(io::requeue_dead(session.redis(), session.prefix(), type, filter, dry_run));
  if (dry_run) {
    if (session.options().json) {
      std::string sample = "[";
      for (std::size_t i = 0; i < result.sample.size(); ++i) sample += (i ? "," : "") + result.sample[i];
      std::printf("{\"would_requeue\":%zu,\"sample\":%s]}\n", result.count, sample.c_str());
    } else {
      std::printf("would requeue %zu dead letter(s) of %s; the first of them:\n", result.count, type.c_str());
      for (const std::string& text : result.sample) {
        const auto record = core::parse_dead_record(text);
        const auto summary = record ? core::parse_envelope(record->envelope) : std::nullopt;
        if (record) std::printf("  %s  %s  %s\n", record->failed_at.c_str(), summary ? summary->id.c_str() : "?", record->failure.error.c_str());
      }
      std::printf("run it again with --yes instead of --dry-run to requeue them\n");
    }
    return result.count == 0 ? exit_nothing : exit_ok;
  }
  if (session.options().json) std::printf("{\"requeued\":%zu}\n", result.count);
  else std::printf("requeued %zu dead letter(s) of %s to %s\n", result.count, type.c_str(), result.queue.c_str());
  return result.count == 0 ? exit_nothing : exit_ok;
}

// pause TYPE / resume TYPE: every worker on every host stops (or starts again) taking the type
// within a second; the handler goes on queueing it.
int set_paused(Session& session, bool paused) {
  const std::string type = session.type_argument();
  const std::int64_t changed = session.integer({paused ? "SADD" : "SREM", core::paused_key(session.prefix()), type});
  if (session.options().json) std::printf("{\"type\":%s,\"paused\":%s,\"changed\":%s}\n", core::json_string(type).c_str(),
                                          paused ? "true" : "false", changed ? "true" : "false");
  else std::printf("%s %s%s\n", type.c_str(), paused ? "paused: workers take none of its events; they wait in its queue" : "resumed",
                   changed ? "" : " (it already was)");
  return exit_ok;
}

int pause(Session& session) { return set_paused(session, true); }
int resume(Session& session) { return set_paused(session, false); }

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
