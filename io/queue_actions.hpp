// queue_actions.hpp -- what operators do to the queues: requeue dead letters, purge them, replay a
// refused request. boardhook-queues and the web view both call these, so the two do exactly the
// same thing.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <vector>

#include "core/config.hpp"
#include "core/dead_letter.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::io {

// The outcome of an action, or why Redis could not carry it out (`redis_error` set).
struct ActionResult {
  std::size_t count = 0;     // dead letters requeued or purged, events replayed
  std::string queue;         // the queue replayed into
  std::string refusal;       // replay: why the record is not replayed ("" when it is)
  bool found = true;         // replay: a record with that request id exists
  std::string redis_error;   // "" when Redis answered
  std::vector<std::string> sample;  // requeue --dry-run: the first selected dead letters
};

// The dead letters of `event_type` that `filter` selects back to the consuming end of their
// queue, each moved atomically (only if still there) with its attempts forgotten. With `dry_run`
// nothing moves: `count` says how many would, and `sample` holds the first few records.
ActionResult requeue_dead(RedisConnection& redis, const std::string& prefix, const std::string& event_type,
                          const core::DeadFilter& filter = {}, bool dry_run = false);

// Deletes the dead letters of `event_type`.
ActionResult purge_dead(RedisConnection& redis, const std::string& prefix, const std::string& event_type);

// Judges a kept refused POST again (core::decide_replay) and, when it passes, queues its events
// through the ingest script and removes the record, in one MULTI/EXEC.
ActionResult replay_rejected(RedisConnection& redis, const core::Config& config, const std::string& request_id,
                             std::int64_t now_ms);

}  // namespace boardhook::io
