// rejected_record.hpp -- the record kept in <prefix>:rejected for a refused POST: its one writer and
// its one reader, and the rule for which records may be replayed.
//
// {"at","request_id","status","reason","detail","body_bytes","body_encoding","body_truncated","body"}
// `body` holds the first 64 KiB of the body: as text when it is UTF-8, else in base64.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

// How much of a refused body is kept for inspection.
inline constexpr std::size_t max_kept_body_bytes = 64 * 1024;

struct RejectedRecord {
  std::string at;             // RFC 3339 UTC with milliseconds
  std::string request_id;
  int status = 0;
  std::string reason;         // the error code the client got
  std::string detail;
  std::size_t body_bytes = 0; // size of the whole body
  bool body_truncated = false;
  std::string body;           // the kept bytes, decoded (never base64 here)
};

// The record for a refused request. `body` is the body as received (only its first part when it
// was over the limit): up to max_kept_body_bytes of it are kept.
std::string make_rejected_record(std::int64_t at_ms, std::string_view request_id, int status, std::string_view reason,
                                 std::string_view detail, std::size_t body_bytes, std::string_view body);

// Reads a record made by make_rejected_record; nullopt when `text` is not one (or its base64
// body does not decode).
std::optional<RejectedRecord> parse_rejected_record(std::string_view text);

// True for the reasons that say the sender was not who it claimed to be (no or a wrong endpoint
// key, a community this endpoint does not serve). Such a body is never replayed: queueing it
// would let a replay do what the request itself was refused for.
bool is_authentication_refusal(std::string_view reason);

}  // namespace boardhook::core
