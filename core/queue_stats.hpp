// queue_stats.hpp -- a snapshot of what waits in Redis: per event type, per worker, refused
// requests and the spool; its JSON form, and rates between two snapshots. Filled by
// io/queue_stats.cpp; shown by boardhook-queues stats (and anything else that shows queues).
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/keys.hpp"
#include "core/worker_record.hpp"

namespace boardhook::core {

struct TypeStats {
  std::string type;
  std::int64_t queued = 0;
  std::int64_t processing = 0;
  std::int64_t retry = 0;
  std::int64_t dead = 0;
  std::optional<std::int64_t> oldest_age_ms;  // of the oldest queued event
  bool paused = false;                        // boardhook-queues pause
  std::map<Counter, std::int64_t> totals;     // the running totals of <prefix>:counters
};

// A job in a consumer's processing list.
struct RunningJob {
  std::string consumer;     // <worker id>:<n>
  std::string event_id;     // "" when the element is not an envelope
  std::string event_type;
  std::string ticket_id;    // "" when none
  std::string received_at;
};

struct WorkerStats {
  std::string id;
  std::optional<WorkerRecord> record;           // nullopt when the stored record is not one
  bool alive = false;
  std::optional<std::int64_t> last_heartbeat_ms;
  std::int64_t running = 0;                     // jobs in its consumers' processing lists
  std::vector<RunningJob> jobs;
};

struct SpoolStats {
  std::string dir;
  std::size_t segments = 0;
  std::size_t records = 0;
  std::uint64_t bytes = 0;
  std::optional<std::int64_t> oldest_age_ms;
};

struct QueueStats {
  std::int64_t at_ms = 0;
  std::vector<TypeStats> types;      // by name
  std::vector<WorkerStats> workers;  // by id
  std::int64_t rejected = 0;         // refused requests kept
  std::optional<SpoolStats> spool;   // when the spool folder is visible from here
};

// {"at","at_ms","types":[{"type","queued","processing","retry","dead","oldest_age_ms","totals"
// [,"per_second"]}],"workers":[{"id","alive","last_heartbeat_ms","running",...record}],
// "rejected","spool"}. With `previous`, each type row gets its totals' change per second.
boost::json::object to_json(const QueueStats& stats, const QueueStats* previous = nullptr);

// The change of a type's running total per second between two snapshots (0 when unknown).
double rate_per_second(const QueueStats& now, const QueueStats& before, const std::string& type, Counter counter);

}  // namespace boardhook::core
