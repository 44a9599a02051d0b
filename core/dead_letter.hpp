// dead_letter.hpp -- the record a worker leaves in <prefix>:dead:<type> when it gives up on an event.
//
// {"failed_at","worker","attempts","exit_code","signal","timed_out","error","stderr_tail","envelope"}
// `envelope` is the queued envelope byte for byte, so `requeue` puts back exactly what was taken.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

struct JobFailure {
  std::optional<int> exit_code;  // set when the command exited
  std::optional<int> signal;     // set when it was killed by a signal
  bool timed_out = false;
  std::optional<int> http_status; // set when an HTTP destination answered
  std::string error;             // a sentence: "exit code 3", "timed out after 30 s", "cannot start: ..."
  std::string stderr_tail;       // the last lines the command wrote to stderr (UTF-8 or escaped)
};

std::string make_dead_record(std::string_view envelope, const JobFailure& failure, std::int64_t attempts,
                             std::string_view worker_id, std::int64_t failed_at_ms);

// The envelope inside a dead record, exactly as it was queued; nullopt when malformed.
std::optional<std::string_view> dead_record_envelope(std::string_view record);

// A dead record read back. Fields missing or of another type keep their defaults, so a record
// of an older or newer worker still shows; nullopt when `record` is not a JSON object with an
// envelope.
struct DeadRecord {
  std::string failed_at;
  std::string worker;
  std::int64_t attempts = 0;
  JobFailure failure;
  std::string envelope;  // byte for byte as queued
};
std::optional<DeadRecord> parse_dead_record(std::string_view record);

// Which dead letters a bulk requeue takes: every condition given must hold.
struct DeadFilter {
  std::string event_id;                      // only this event
  std::optional<std::int64_t> since_ms;      // failed at or after
  std::optional<std::int64_t> until_ms;      // failed before
  std::string error_contains;                // in the error or the stderr tail (the answer's head)
  std::optional<int> exit_code;
  std::optional<int> http_status;
  bool matches(const DeadRecord& record, std::string_view event_id_of_record) const;
};

// A time given on a command line: RFC 3339 ("2026-12-04T10:00:00Z") or an age ("90s", "30m",
// "2h", "7d": that long before `now_ms`). nullopt when neither.
std::optional<std::int64_t> parse_time_argument(std::string_view text, std::int64_t now_ms);

// Bytes of `text` safe to put in a JSON string: invalid UTF-8 becomes U+FFFD.
std::string to_valid_utf8(std::string_view text);

}  // namespace boardhook::core
