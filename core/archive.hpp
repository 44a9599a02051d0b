// archive.hpp -- the archive of queued envelopes (BOARDHOOK_ARCHIVE_SECONDS): what one entry of
// the stream <prefix>:archive holds, which entries a command line selects, and how they are
// listed and exported. The ingest script writes the entries (ingest.cpp); this reads them.
//
// An entry's stream id is "<Unix ms when queued>-<n>", so a time range is an XRANGE; its fields
// are `type` (the event type as sent), `ticket` (decimal, "" when none) and `envelope` (the
// queued envelope byte for byte).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

struct ArchivedEvent {
  std::string archive_id;  // the stream id
  std::int64_t archived_ms = 0;
  std::string event_type;
  std::string ticket;      // "" when the event has no ticket
  std::string envelope;
};

// A stream entry as XRANGE gives it: its id and its field/value list. nullopt when it is not an
// entry the ingest script wrote.
std::optional<ArchivedEvent> parse_archive_entry(std::string_view archive_id, const std::vector<std::string>& fields);

// What `archive`, `archive export` and `replay --from-archive` select: every condition given.
struct ArchiveFilter {
  std::optional<std::string> event_type;
  std::optional<std::string> ticket;   // decimal, as in the envelope
  std::optional<std::int64_t> since_ms;  // queued at or after
  std::optional<std::int64_t> until_ms;  // queued at or before
  std::string last_id;  // when set: no entry after this stream id (a replay stops at what was there when it began)
};

// The XRANGE bounds of the filter's time range ("-" and "+" when open); the end is the earlier of
// until_ms and last_id.
std::string archive_range_start(const ArchiveFilter& filter);
std::string archive_range_end(const ArchiveFilter& filter);
// The start of the next page after the entry `last_id` (an exclusive XRANGE bound).
std::string archive_range_after(std::string_view last_id);

bool archive_selects(const ArchiveFilter& filter, const ArchivedEvent& event);

// One line of `archive`: when, type, ticket, event id, delivery.
std::string archive_line(const ArchivedEvent& event);
// One element of `archive --json`: {"archive_id","archived_at","type","ticket","envelope"}, the
// envelope as the JSON it is.
std::string archive_json(const ArchivedEvent& event);
// One line of `archive export` (JSON Lines, no newline at the end):
// {"archive_id","archived_at","type","ticket","envelope"} with the envelope as a JSON string
// holding its bytes exactly: an event sent pretty-printed has line breaks in its envelope, which
// a line of JSON Lines cannot hold as they are.
std::string archive_export_line(const ArchivedEvent& event);

}  // namespace boardhook::core
