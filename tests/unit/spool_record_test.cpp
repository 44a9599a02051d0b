// spool_record_test.cpp -- spool framing: round trips, torn tails, corruption, resynchronisation.
#include <catch2/catch.hpp>

#include "core/spool_record.hpp"
#include "core/writes.hpp"

using namespace boardhook::core;

namespace {
std::string little_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(value >> (8 * i) & 0xFF);
  return out;
}

SpoolRecord sample_record() {
  return {SpoolRecordKind::events, 1795779714774, {"bh:queue:t", "bh:event-types", "bh:counters", "t", "{\"a\":1}", std::string("x\0y", 3)}};
}
}  // namespace

TEST_CASE("a spool record decodes to exactly what was encoded") {
  const SpoolRecord record = sample_record();
  const std::string bytes = encode_spool_record(record);
  REQUIRE(bytes.substr(0, 4) == "BHS1");
  const DecodeResult decoded = decode_spool_record(bytes);
  REQUIRE(decoded.status == DecodeStatus::ok);
  CHECK(decoded.size == bytes.size());
  CHECK(decoded.record.kind == record.kind);
  CHECK(decoded.record.written_at_ms == record.written_at_ms);
  CHECK(decoded.record.fields == record.fields);
}

TEST_CASE("CRC-32C matches the Castagnoli check value however the input is split") {
  CHECK(crc32c({"123456789"}) == 0xE3069283u);
  CHECK(crc32c({"1234", "56789"}) == 0xE3069283u);
  CHECK(crc32c({"", "123456789", ""}) == 0xE3069283u);
  CHECK(crc32c({""}) == 0u);
  CHECK(crc32c({}) == 0u);
  // RFC 3720 B.4: 32 bytes of zeros, and of 0xFF.
  CHECK(crc32c({std::string(32, '\0')}) == 0x8A9136AAu);
  CHECK(crc32c({std::string(32, '\xFF')}) == 0x62A8AB43u);
}

TEST_CASE("a record spelled byte by byte from the format decodes, and encoding writes the same bytes") {
  // Spool files written by earlier versions must still drain. The checksum was computed apart from
  // this code (Python, bit by bit: reflected 0x82F63B78, all ones in and out).
  const SpoolRecord record{SpoolRecordKind::events, 1764242060123,
                           {"boardhook:queue:note_deletion", "boardhook:event-types", "boardhook:counters", "note_deletion",
                            "{\"id\":\"x\"}"}};
  std::string payload = little_endian(1764242060123, 8) + '\x01' + little_endian(5, 4);
  for (const std::string& field : record.fields) payload += little_endian(field.size(), 4) + field;
  const std::string bytes = "BHS1" + little_endian(payload.size(), 4) + little_endian(0x5142692d, 4) + payload;
  const DecodeResult decoded = decode_spool_record(bytes);
  REQUIRE(decoded.status == DecodeStatus::ok);
  CHECK(decoded.size == bytes.size());
  CHECK(decoded.record.written_at_ms == record.written_at_ms);
  CHECK(decoded.record.fields == record.fields);
  CHECK(encode_spool_record(record) == bytes);
}

TEST_CASE("a record cut anywhere is reported as truncated, never decoded") {
  const std::string bytes = encode_spool_record(sample_record());
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut);
    const DecodeResult decoded = decode_spool_record(std::string_view(bytes).substr(0, cut));
    CHECK(decoded.status == DecodeStatus::truncated);
  }
}

TEST_CASE("a flipped bit anywhere in a record makes it corrupt or truncated, never ok") {
  const std::string bytes = encode_spool_record(sample_record());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    INFO("byte " << i);
    CHECK(decode_spool_record(damaged).status != DecodeStatus::ok);
  }
}

TEST_CASE("the next valid record is found after a corrupt stretch") {
  const std::string first = encode_spool_record(sample_record());
  SpoolRecord other = sample_record();
  other.fields.back() = "second";
  const std::string second = encode_spool_record(other);
  std::string file = first + second;
  file[20] = static_cast<char>(file[20] ^ 0xFF);  // damage the first record's payload
  REQUIRE(decode_spool_record(file).status == DecodeStatus::corrupt);
  const std::size_t next = find_next_spool_record(file, 1);
  REQUIRE(next == first.size());
  CHECK(decode_spool_record(std::string_view(file).substr(next)).record.fields.back() == "second");
  CHECK(find_next_spool_record(first, 1) == std::string_view::npos);
}

TEST_CASE("store events and rejected bodies survive the trip through a spool record") {
  const StoreEvents store{"bh:queue:t", "bh:event-types", "bh:counters", "t", {"{\"id\":\"1\"}", "{\"id\":\"2\"}"}};
  const auto back = store_events_from(decode_spool_record(encode_spool_record(to_spool_record(store, 5))).record);
  REQUIRE(back);
  CHECK(back->queue_key == store.queue_key);
  CHECK(back->event_types_key == store.event_types_key);
  CHECK(back->counters_key == store.counters_key);
  CHECK(back->event_type == store.event_type);
  CHECK(back->envelopes == store.envelopes);
  CHECK_FALSE(keep_rejected_from(to_spool_record(store, 5)));

  const KeepRejected reject{"bh:rejected", "{\"reason\":\"x\"}", 1000};
  const auto again = keep_rejected_from(to_spool_record(reject, 5));
  REQUIRE(again);
  CHECK(again->rejected_key == reject.rejected_key);
  CHECK(again->record == reject.record);
  CHECK(again->keep == 1000);
  CHECK_FALSE(store_events_from(to_spool_record(reject, 5)));
}

TEST_CASE("a record's size and time are read from its first bytes, without its payload") {
  SpoolRecord record;
  record.kind = SpoolRecordKind::events;
  record.written_at_ms = 1709210096789;
  record.fields = {"a", "b", std::string(5000, 'x')};
  const std::string bytes = encode_spool_record(record);
  const auto head = peek_spool_record(std::string_view(bytes).substr(0, spool_record_head_bytes));
  REQUIRE(head);
  CHECK(head->size == bytes.size());
  CHECK(head->written_at_ms == record.written_at_ms);
  CHECK(decode_spool_record(bytes).record.written_at_ms == head->written_at_ms);
  CHECK_FALSE(peek_spool_record(std::string_view(bytes).substr(0, spool_record_head_bytes - 1)));
  CHECK_FALSE(peek_spool_record(std::string(spool_record_head_bytes, 'z')));
}
