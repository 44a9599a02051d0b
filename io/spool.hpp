// spool.hpp -- the disk spool: where events go, fsync'd, when Redis cannot take them.
//
// Each process appends to segment files of its own ("seg-<created ns>-<host>-<pid>-<seq>.spool"),
// holding an exclusive flock on them while it lives. A drain pass seals the current segment,
// delivers every record of every segment it can take (its own, and any whose owner died) in
// creation order, records progress in "<segment>.done", and deletes a segment once all of
// it is delivered. A crash between delivery and the progress note repeats records (same
// envelope id); nothing is removed before Redis confirmed it.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/spool_record.hpp"

namespace boardhook::io {

struct SpoolStatus {
  std::size_t segments = 0;
  std::size_t records = 0;                          // not yet delivered
  std::uint64_t bytes = 0;                          // not yet delivered
  std::optional<std::int64_t> oldest_written_at_ms;
  std::size_t torn_records = 0;                     // found while counting
};

struct DrainResult {
  std::size_t delivered = 0;
  std::size_t torn = 0;         // torn or corrupt stretches skipped (each reported in the log)
  bool complete = false;        // every segment it could take is now delivered and deleted
  std::string error;            // why it stopped early, when it did
};

// Stores a run of consecutive records in Redis, in their order; true only when Redis confirmed
// every one. On false none counts as delivered and the run is offered again on the next pass
// (the ingest script's deduplication keeps what did get queued from being queued twice).
using Deliver = std::function<bool(std::span<const core::SpoolRecord> records, std::string& error)>;

class Spool {
 public:
  // Creates `directory` when missing; throws std::runtime_error when it cannot be used.
  Spool(std::string directory, std::uint64_t max_bytes);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends `record` and waits until it is on disk (fdatasync, shared by concurrent
  // appenders). True only then; false with `error` when full or on any I/O failure.
  bool append(const core::SpoolRecord& record, std::string& error);

  // True while this process's segments (or ones it took over) may hold undelivered records.
  // New events then go to the spool too, behind the older ones, so the order of the events
  // one process received survives an outage (between processes there is no order to keep).
  bool has_backlog() const { return backlog_.load(); }

  // One drain pass; see the file comment. Stops at the first failed delivery.
  DrainResult drain(const Deliver& deliver);

  const std::string& directory() const { return directory_; }

  // True when an append could succeed now: the folder is writable and not full.
  bool check_writable(std::string& problem) const;

  // Counts what every segment in `directory` still holds; reads headers, not payloads.
  static SpoolStatus scan_status(const std::string& directory);

  // How often this spool has listed its folder to add up the segments' sizes (at start, at each
  // new segment, and at most once a second while full): never once per append.
  std::uint64_t directory_scans() const { return directory_scans_.load(); }

 private:
  struct Segment;
  struct Candidate {
    std::string name;
    std::string path;
    std::shared_ptr<Segment> own;  // set for this process's segments
    int lock_fd = -1;              // set for taken-over segments of dead processes
  };
  std::shared_ptr<Segment> open_new_segment(std::string& error);
  std::vector<Candidate> drain_candidates();
  bool drain_segment(const Candidate& candidate, const Deliver& deliver, DrainResult& result);
  bool drain_tail(const Deliver& deliver, DrainResult& result);
  std::uint64_t directory_bytes() const;
  bool has_room_for(std::size_t bytes, bool at_segment_boundary, std::string& error);

  std::string directory_;
  std::uint64_t max_bytes_;
  std::string host_;
  std::mutex mutex_;                                  // guards the fields below
  std::vector<std::shared_ptr<Segment>> own_segments_;  // creation order; the last may be current
  std::shared_ptr<Segment> current_;
  std::uint64_t next_sequence_ = 0;
  // Bytes of every segment in the folder, as last listed plus what this process appended since.
  // Other processes' appends and drains are seen at the next listing.
  std::uint64_t used_bytes_ = 0;
  std::chrono::steady_clock::time_point used_listed_at_;
  mutable std::atomic<std::uint64_t> directory_scans_{0};
  std::atomic<bool> backlog_{false};
};

}  // namespace boardhook::io
