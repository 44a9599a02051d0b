// spool_record.cpp -- spool record encoding, CRC-32C (Castagnoli, by Boost.CRC), and defensive decoding.
#include "core/spool_record.hpp"

#include <boost/crc.hpp>

namespace boardhook::core {

namespace {

// CRC-32C as iSCSI, ext4 and SSE 4.2's crc32 instruction compute it: Castagnoli's polynomial,
// reflected, all ones in and out.
using Crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>(value >> (8 * i) & 0xFF);
}
void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>(value >> (8 * i) & 0xFF);
}
std::uint64_t get_le(std::string_view bytes, std::size_t at, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  return value;
}

// Parses a payload whose checksum already held; false when its structure is inconsistent.
bool parse_payload(std::string_view payload, SpoolRecord& record) {
  if (payload.size() < 13) return false;
  record.written_at_ms = static_cast<std::int64_t>(get_le(payload, 0, 8));
  const auto kind = static_cast<std::uint8_t>(payload[8]);
  if (kind != 1 && kind != 2) return false;
  record.kind = static_cast<SpoolRecordKind>(kind);
  const auto count = get_le(payload, 9, 4);
  std::size_t at = 13;
  record.fields.clear();
  for (std::uint64_t i = 0; i < count; ++i) {
    if (payload.size() - at < 4) return false;
    const auto length = static_cast<std::size_t>(get_le(payload, at, 4));
    at += 4;
    if (payload.size() - at < length) return false;
    record.fields.emplace_back(payload.substr(at, length));
    at += length;
  }
  return at == payload.size();
}

}  // namespace

std::uint32_t crc32c(std::initializer_list<std::string_view> parts) {
  Crc32c crc;
  for (const std::string_view part : parts) crc.process_bytes(part.data(), part.size());
  return crc.checksum();
}

std::string encode_spool_record(const SpoolRecord& record) {
  std::string payload;
  std::size_t size = 13;
  for (const auto& field : record.fields) size += 4 + field.size();
  payload.reserve(size);
  put_u64(payload, static_cast<std::uint64_t>(record.written_at_ms));
  payload += static_cast<char>(record.kind);
  put_u32(payload, static_cast<std::uint32_t>(record.fields.size()));
  for (const auto& field : record.fields) {
    put_u32(payload, static_cast<std::uint32_t>(field.size()));
    payload += field;
  }
  std::string length;
  put_u32(length, static_cast<std::uint32_t>(payload.size()));
  std::string out;
  out.reserve(spool_header_bytes + payload.size());
  out += spool_magic;
  out += length;
  put_u32(out, crc32c({length, payload}));
  out += payload;
  return out;
}

DecodeResult decode_spool_record(std::string_view bytes) {
  DecodeResult result;
  const std::size_t magic_bytes = std::min(bytes.size(), spool_magic.size());
  if (bytes.substr(0, magic_bytes) != spool_magic.substr(0, magic_bytes)) return result;  // corrupt
  if (bytes.size() < spool_header_bytes) {
    result.status = DecodeStatus::truncated;
    return result;
  }
  const auto length = static_cast<std::size_t>(get_le(bytes, 4, 4));
  if (length > max_spool_payload_bytes) return result;
  if (bytes.size() - spool_header_bytes < length) {
    result.status = DecodeStatus::truncated;
    result.size = spool_header_bytes + length;
    return result;
  }
  const std::string_view payload = bytes.substr(spool_header_bytes, length);
  const auto stored_crc = static_cast<std::uint32_t>(get_le(bytes, 8, 4));
  if (crc32c({bytes.substr(4, 4), payload}) != stored_crc) return result;
  if (!parse_payload(payload, result.record)) return result;
  result.status = DecodeStatus::ok;
  result.size = spool_header_bytes + length;
  return result;
}

std::size_t find_next_spool_record(std::string_view bytes, std::size_t from) {
  for (std::size_t at = bytes.find(spool_magic, from); at != std::string_view::npos; at = bytes.find(spool_magic, at + 1)) {
    if (decode_spool_record(bytes.substr(at)).status == DecodeStatus::ok) return at;
  }
  return std::string_view::npos;
}

std::optional<SpoolRecordHead> peek_spool_record(std::string_view head) {
  if (head.size() < spool_record_head_bytes) return std::nullopt;
  const DecodeResult probe = decode_spool_record(head.substr(0, spool_header_bytes));
  if (probe.status == DecodeStatus::corrupt || probe.size < spool_record_head_bytes) return std::nullopt;
  return SpoolRecordHead{probe.size, static_cast<std::int64_t>(get_le(head, spool_header_bytes, 8))};
}

}  // namespace boardhook::core
