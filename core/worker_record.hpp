// worker_record.hpp -- how a worker names itself and its consumers, and the record it keeps in
// <prefix>:workers: the one writer and the one reader, shared by boardhook-worker (which writes
// and reclaims by them) and boardhook-queues (which shows them).
//
// Worker id: <host>:<pid>:<nonce>, the nonce six hex digits new at each start, so a restarted
// container whose worker is pid 1 again is told from its predecessor. Consumer id:
// <worker id>:<n>, n from 0; each consumer has its processing list (keys.hpp).
// Record: {"host","pid","consumers","started_at","types","circuits":{type: state}}.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

std::string make_worker_id(std::string_view host, std::int64_t pid, std::uint32_t nonce);
std::string consumer_id(std::string_view worker_id, int index);

// The most consumers a record may claim; a reader never walks more processing lists than this.
inline constexpr int max_consumers = 1024;

struct WorkerRecord {
  std::string host;
  std::int64_t pid = 0;
  int consumers = 1;
  std::string started_at;          // RFC 3339 UTC with milliseconds
  std::vector<std::string> types;  // the event types it serves
  // The circuit of each type whose destination it found failing: "open" or "half-open" (a type
  // missing here is closed).
  std::map<std::string, std::string> circuits;
};

std::string make_worker_record(const WorkerRecord& record);

// Reads a record made by make_worker_record. A field that is missing or of another type keeps
// its default (a record from an older or newer worker still names its consumers); `consumers`
// is clamped to 1..max_consumers. nullopt when `text` is not a JSON object.
std::optional<WorkerRecord> parse_worker_record(std::string_view text);

}  // namespace boardhook::core
