// ingest.hpp -- runs core/ingest.hpp's script for a batch, and, when replicas must confirm,
// WAIT in the same round trip; says per group what happened and whether it is replicated.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ingest.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::io {

struct IngestGroupResult {
  bool stored = false;
  std::string error;           // when not stored
  std::int64_t queued = 0;
  std::int64_t duplicates = 0; // skipped: queued before within the deduplication window
};

struct IngestResult {
  std::vector<IngestGroupResult> groups;
  bool replicated = true;  // at least `min_replicas` replicas confirmed the writes
  std::int64_t replicas = 0;
};

// nullopt with `error` when the script did not run (the connection failed, or Redis refused it
// whole: out of memory, too few replicas, a replica). `min_replicas` 0: no WAIT.
std::optional<IngestResult> run_ingest(RedisConnection& redis, const core::IngestCommand& command, int min_replicas,
                                       int wait_timeout_ms, std::string& error);

}  // namespace boardhook::io
