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
std::string_view ingest_script();

// The EVAL of one batch. Requests with the same queue form a group: one push loop, one SADD and
// one HINCRBY, their envelopes in request order, so a queue receives them in the order the
// requests were taken. The script's reply holds one element per group, in group order:
// {1, queued, duplicates skipped} or {0, error}.
struct IngestCommand {
  Transaction transaction;                    // one command: EVAL
  std::vector<std::size_t> group_of_request;  // the group of each request, in order
  std::size_t groups = 0;
};

struct IngestOptions {
  std::int64_t dedup_seconds = 0;  // 0: nothing is skipped
  std::string seen_prefix;         // keys.hpp's seen_key_prefix
  std::int64_t archive_seconds = 0;  // 0: no archive; else each queued envelope is also appended
  std::string archive_key;           // to this stream, entries older than that trimmed
};
// The options of a handler's writes, from its configuration.
IngestOptions ingest_options(std::string_view prefix, std::int64_t dedup_seconds, std::int64_t archive_seconds);

IngestCommand ingest_command_for(std::span<const StoreEvents* const> stores, const IngestOptions& options);

}  // namespace boardhook::core
