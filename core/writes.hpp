// writes.hpp -- the Redis writes a decision asks for, and their form in the disk spool.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/spool_record.hpp"

namespace boardhook::core {

// Events to write in one MULTI/EXEC before the response may be sent.
struct StoreEvents {
  std::string queue_key;
  std::string event_types_key;
  std::string counters_key;            // HINCRBY "queued:<type>" by the number of envelopes
  std::string event_type;
  std::vector<std::string> envelopes;  // in Events order; LPUSHed so the oldest is rightmost
};

// A refused request to keep for inspection (best effort: its answer does not depend on it).
struct KeepRejected {
  std::string rejected_key;
  std::string record;
  std::size_t keep = 0;  // LTRIM to this many
};

// One Redis command: its arguments, pointing into strings that outlive it.
using RedisCommand = std::vector<std::string_view>;

// A transaction's commands and the strings they point into that nothing else owns.
struct Transaction {
  std::deque<std::string> owned;  // a deque: growing it never moves what commands point at
  std::vector<RedisCommand> commands;
};

// The commands of keeping a rejected body (LPUSH, LTRIM). They point into `reject`, which must
// outlive them. Events go through ingest.hpp.
Transaction transaction_for(const KeepRejected& reject);

SpoolRecord to_spool_record(const StoreEvents& store, std::int64_t now_ms);
SpoolRecord to_spool_record(const KeepRejected& reject, std::int64_t now_ms);

// Back from a spool record; nullopt when the record is not of that kind or malformed.
std::optional<StoreEvents> store_events_from(const SpoolRecord& record);
std::optional<KeepRejected> keep_rejected_from(const SpoolRecord& record);

}  // namespace boardhook::core
