// spool_record_test.cpp -- spool framing: round trips, torn tails, corruption, resynchronisation.
#include <catch2/catch.hpp>

#include "core/spool_record.hpp"
#include "core/writes.hpp"

using namespace boardhook::core;

namespace {
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

TEST_CASE("CRC-32C matches the Castagnoli check value") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
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
