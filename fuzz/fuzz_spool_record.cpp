// fuzz_spool_record.cpp -- libFuzzer target: spool record decoding, as the drainer reads a segment.
//
// Input: MODE BYTES. MODE bit 0 set: before decoding, the header's length and CRC-32C are made to
// hold for BYTES (so the fuzzer reaches the payload parser instead of stopping at the checksum).
// Checks, besides memory safety: a decoded record is never longer than the input and encodes
// back to exactly the bytes it came from; a truncated result never claims bytes that are there;
// find_next_spool_record only ever points at a decodable record; events and rejected records
// read back from a record survive the trip to a record and back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"
#include "core/spool_record.hpp"
#include "core/writes.hpp"

using namespace boardhook::core;

namespace {

void put_u32(std::string& bytes, std::size_t at, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i) & 0xFF);
}

// Makes the header of `bytes` describe the rest: magic, payload length, CRC-32C.
void fix_header(std::string& bytes) {
  if (bytes.size() < spool_header_bytes) return;
  bytes.replace(0, spool_magic.size(), spool_magic);
  const auto length = static_cast<std::uint32_t>(bytes.size() - spool_header_bytes);
  put_u32(bytes, 4, length);
  const std::string_view view(bytes);
  put_u32(bytes, 8, crc32c({view.substr(4, 4), view.substr(spool_header_bytes)}));
}

void check_round_trips(const SpoolRecord& record) {
  if (const auto store = store_events_from(record)) {
    const auto again = store_events_from(to_spool_record(*store, record.written_at_ms));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->queue_key == store->queue_key && again->event_types_key == store->event_types_key);
    FUZZ_CHECK(again->counters_key == store->counters_key && again->event_type == store->event_type);
    FUZZ_CHECK(again->envelopes == store->envelopes);
  }
  if (const auto reject = keep_rejected_from(record)) {
    const auto again = keep_rejected_from(to_spool_record(*reject, record.written_at_ms));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->rejected_key == reject->rejected_key && again->record == reject->record);
    FUZZ_CHECK(again->keep == reject->keep);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return -1;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) fix_header(bytes);

  const DecodeResult result = decode_spool_record(bytes);
  switch (result.status) {
    case DecodeStatus::ok:
      FUZZ_CHECK(result.size >= spool_header_bytes && result.size <= bytes.size());
      FUZZ_CHECK(encode_spool_record(result.record) == std::string_view(bytes).substr(0, result.size));
      check_round_trips(result.record);
      break;
    case DecodeStatus::truncated:
      FUZZ_CHECK(result.size == 0 || result.size > bytes.size());
      break;
    case DecodeStatus::corrupt:
      break;
  }

  const std::size_t next = find_next_spool_record(bytes, 0);
  if (next != std::string_view::npos) {
    FUZZ_CHECK(next < bytes.size());
    FUZZ_CHECK(decode_spool_record(std::string_view(bytes).substr(next)).status == DecodeStatus::ok);
    if (result.status == DecodeStatus::ok) FUZZ_CHECK(next == 0);
  }
  return 0;
}
