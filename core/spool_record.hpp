// spool_record.hpp -- the on-disk framing of spool records: length, checksum, fields.
//
// A record is  "BHS1" | u32 payload length | u32 CRC-32C of (length bytes + payload) | payload
// and the payload is  u64 written_at_ms | u8 kind | u32 field count | (u32 length | bytes)*.
// All integers are little-endian. A crash mid-append leaves a record whose length or
// checksum does not hold; decode_record() reports it instead of returning garbage.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

inline constexpr std::string_view spool_magic = "BHS1";
inline constexpr std::size_t spool_header_bytes = 12;
inline constexpr std::uint32_t max_spool_payload_bytes = 1u << 30;

enum class SpoolRecordKind : std::uint8_t {
  events = 1,    // fields: queue key, event-types key, counters key, event type, envelope...
  rejected = 2,  // fields: rejected key, keep count (decimal), record
};

struct SpoolRecord {
  SpoolRecordKind kind = SpoolRecordKind::events;
  std::int64_t written_at_ms = 0;
  std::vector<std::string> fields;
};

// CRC-32C of the concatenation of `parts` (a record's length bytes, then its payload).
std::uint32_t crc32c(std::initializer_list<std::string_view> parts);

std::string encode_spool_record(const SpoolRecord& record);

enum class DecodeStatus {
  ok,         // a whole record; `size` bytes consumed
  truncated,  // the input ends inside a record (a torn tail, or still being written)
  corrupt,    // no valid record starts here
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::corrupt;
  std::size_t size = 0;  // bytes of the record, when ok; bytes needed, when truncated and known
  SpoolRecord record;
};

// Decodes the record at the start of `bytes`.
DecodeResult decode_spool_record(std::string_view bytes);

// The bytes a reader needs to learn a record's size and when it was written, without its payload.
inline constexpr std::size_t spool_record_head_bytes = spool_header_bytes + 8;

// From the first spool_record_head_bytes of a record: its size (as decode_spool_record reports
// it for a cut-off record) and written_at_ms. nullopt when no record starts there. The checksum
// is not checked: that needs the whole record.
struct SpoolRecordHead {
  std::size_t size = 0;
  std::int64_t written_at_ms = 0;
};
std::optional<SpoolRecordHead> peek_spool_record(std::string_view head);

// Offset of the next position after `from` where a valid record starts, or npos.
std::size_t find_next_spool_record(std::string_view bytes, std::size_t from);

}  // namespace boardhook::core
