// archive.hpp -- reads the archive stream page by page, and queues archived envelopes again.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/archive.hpp"
#include "core/config.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::io {

// Calls `take` with each archived event the filter selects, oldest first (or newest first),
// reading the stream's time range in pages of `page_size`; `take` returns false to stop. False
// with `error` when Redis failed (what was taken before stays taken).
bool read_archive(RedisConnection& redis, const std::string& prefix, const core::ArchiveFilter& filter, bool newest_first,
                  const std::function<bool(const core::ArchivedEvent&)>& take, std::string& error,
                  std::size_t page_size = 1000);

// What replay --from-archive did, or with `dry_run` would do.
struct ArchiveReplay {
  std::size_t selected = 0;
  std::size_t queued = 0;
  std::vector<core::ArchivedEvent> sample;  // the first few selected
  std::string error;                        // "" when Redis did all of it
};

// Selects archived events with `filter` up to the archive's newest entry when it starts (what
// handlers archive meanwhile is not part of it) and, unless `dry_run`, queues them
// again with queue_archived, a batch at a time as they are read.
ArchiveReplay replay_archive(RedisConnection& redis, const core::Config& config, core::ArchiveFilter filter, bool dry_run,
                             std::size_t sample_size = 5);

// Queues `events` again through the ingest script, with deduplication off (a replay is meant)
// and without archiving them a second time (each is there already: one entry per event). One script per batch of at
// most `batch_size`, each type's envelopes in it queued whole or not at all. Returns how many were queued; on a
// failure `error` says why and the count tells how far it got.
std::size_t queue_archived(RedisConnection& redis, const core::Config& config, const std::vector<core::ArchivedEvent>& events,
                           std::string& error, std::size_t batch_size = 500);

}  // namespace boardhook::io
