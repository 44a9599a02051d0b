// stats.cpp -- boardhook-queues stats [--watch]: the queue snapshot as a table or JSON.
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/rfc3339.hpp"
#include "io/queue_stats.hpp"
#include "tools/session.hpp"

namespace boardhook::tools {

namespace {

std::string age_text(std::optional<std::int64_t> ms) {
  if (!ms) return "-";
  const std::int64_t s = *ms / 1000;
  char text[32];
  if (s < 60) std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60));
  return text;
}

core::QueueStats collect(Session& session) {
  const std::string& spool_dir = !session.options().spool_dir.empty() ? session.options().spool_dir : session.config().spool_dir;
  std::string error;
  auto stats = io::collect_queue_stats(session.redis(), session.prefix(), spool_dir, error);
  if (!stats) throw Failure{exit_redis, "redis: " + error};
  return std::move(*stats);
}

void print_types(const core::QueueStats& stats, const core::QueueStats* previous) {
  std::printf("%-32s %8s %10s %6s %6s %9s", "EVENT TYPE", "QUEUED", "PROCESSING", "RETRY", "DEAD", "OLDEST");
  if (previous != nullptr) std::printf(" %9s %9s", "IN/S", "DONE/S");
  std::printf("\n");
  for (const core::TypeStats& row : stats.types) {
    std::printf("%-32s %8lld %10lld %6lld %6lld %9s", row.type.c_str(), static_cast<long long>(row.queued),
                static_cast<long long>(row.processing), static_cast<long long>(row.retry), static_cast<long long>(row.dead),
                age_text(row.oldest_age_ms).c_str());
    if (previous != nullptr) {
      std::printf(" %9.1f %9.1f", core::rate_per_second(stats, *previous, row.type, core::Counter::queued),
                  core::rate_per_second(stats, *previous, row.type, core::Counter::done));
    }
    std::printf("\n");
  }
}

void print_paused(const core::QueueStats& stats) {
  std::string paused;
  for (const core::TypeStats& row : stats.types) {
    if (row.paused) paused += (paused.empty() ? "" : ", ") + row.type;
  }
  if (!paused.empty()) std::printf("paused (workers take none of their events): %s\n", paused.c_str());
}

void print_workers(const core::QueueStats& stats) {
  std::printf("\n%-40s %-6s %9s %8s %15s\n", "WORKER", "STATE", "CONSUMERS", "RUNNING", "LAST HEARTBEAT");
  for (const core::WorkerStats& worker : stats.workers) {
    std::printf("%-40s %-6s %9d %8lld %15s\n", worker.id.c_str(), worker.alive ? "alive" : "dead",
                worker.record ? worker.record->consumers : 0, static_cast<long long>(worker.running),
                worker.last_heartbeat_ms ? (age_text(stats.at_ms - *worker.last_heartbeat_ms) + " ago").c_str() : "expired");
  }
  if (stats.workers.empty()) std::printf("(no workers registered)\n");
  for (const core::WorkerStats& worker : stats.workers) {
    if (!worker.record) continue;
    for (const auto& [type, state] : worker.record->circuits) {
      std::printf("circuit of %s at %s: %s (its destination keeps failing; events wait in the queue)\n", type.c_str(),
                  worker.id.c_str(), state.c_str());
    }
  }
}

void print_rest(const core::QueueStats& stats) {
  std::printf("\nrejected requests kept: %lld\n", static_cast<long long>(stats.rejected));
  if (!stats.spool) {
    std::printf("spool: not visible from here (give --spool-dir or BOARDHOOK_SPOOL_DIR)\n");
    return;
  }
  std::printf("spool %s: %zu record(s), %llu bytes, oldest %s\n", stats.spool->dir.c_str(), stats.spool->records,
              static_cast<unsigned long long>(stats.spool->bytes), age_text(stats.spool->oldest_age_ms).c_str());
}

void print(const Session& session, const core::QueueStats& stats, const core::QueueStats* previous) {
  if (session.options().json) {
    std::printf("%s\n", boost::json::serialize(core::to_json(stats, previous)).c_str());
  } else {
    print_types(stats, previous);
    print_paused(stats);
    print_workers(stats);
    print_rest(stats);
  }
  std::fflush(stdout);
}

}  // namespace

int stats(Session& session) {
  core::QueueStats current = collect(session);
  if (!session.options().watch) {
    print(session, current, nullptr);
    return exit_ok;
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(session.options().interval * 1000)));
    core::QueueStats next = collect(session);
    if (!session.options().json) std::printf("\033[H\033[2J%s\n", core::format_rfc3339_ms(next.at_ms).c_str());
    print(session, next, &current);
    current = std::move(next);
  }
}

}  // namespace boardhook::tools
