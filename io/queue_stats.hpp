// queue_stats.hpp -- reads a core::QueueStats snapshot from Redis in two round trips (what
// exists, then every count of it in one MULTI/EXEC), and the spool from its folder.
#pragma once
#include <optional>
#include <string>

#include "core/queue_stats.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::io {

// nullopt with `error` set when Redis failed. `spool_dir` may be empty (no spool shown); it is
// also left out when the folder cannot be read from here.
std::optional<core::QueueStats> collect_queue_stats(RedisConnection& redis, const std::string& prefix,
                                                    const std::string& spool_dir, std::string& error);

}  // namespace boardhook::io
