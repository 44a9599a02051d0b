// ingest.hpp -- the one way events enter the queues: a Lua script per batch that, atomically,
// skips envelopes already queued within the deduplication window and pushes the rest, and counts
// them. The handler's batches, spool drains and replays all use it.
//
// Atomic in the strong sense: the script starts with a `#!lua` line, so Redis refuses it whole
// before it runs (out of memory, a replica, too few replicas for min-replicas-to-write) rather
// than after a first write; and the kind of every key is checked before anything is written, so
// a key of the wrong type fails only the group that uses it, with nothing of that group written.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/writes.hpp"

namespace boardhook::core {

// The script's text, for EVAL (Redis caches it by its SHA-1).
extern const std::string_view ingest_script;

// The EVAL of one batch. Requests with the same queue form a group: one push loop, one SADD and
// one HINCRBY, their envelopes in request order, so a queue receives them in the order the
// requests were taken. The script's reply holds one element per group, in group order:
// {1, queued, duplicates skipped} or {0, error}.
struct IngestCommand {
  Transaction transaction;                    // one command: EVAL
  std::vector<std::size_t> group_of_request;  // the group of each request, in order
  std::size_t groups = 0;
};

// `dedup_seconds` 0: nothing is skipped. `seen_prefix` is keys.hpp's seen_key_prefix; the command
// keeps a copy (it may be a temporary). Envelopes and keys are pointed at: `stores` must outlive it.
IngestCommand ingest_command_for(std::span<const StoreEvents* const> stores, std::int64_t dedup_seconds,
                                 std::string_view seen_prefix);

}  // namespace boardhook::core
