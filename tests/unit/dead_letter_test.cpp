// dead_letter_test.cpp -- dead-letter records, envelope summaries, and decoding helpers tools use.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "core/dead_letter.hpp"
#include "core/encoding.hpp"
#include "core/envelope.hpp"
#include "core/rfc3339.hpp"

using namespace boardhook::core;

namespace {
const std::string envelope = make_envelope({"req-1", "2026-11-27T11:00:00.000Z", "c", "note_deletion", std::string("42"), 0, 1,
                                            "{ \"NoteId\" : 182605 }"});
}

TEST_CASE("a dead record keeps the envelope byte for byte and the last error") {
  JobFailure failure;
  failure.exit_code = 3;
  failure.error = "exit code 3";
  failure.stderr_tail = "boom\n\xff";
  const std::string record = make_dead_record(envelope, failure, 5, "host:1:0", 0);
  const auto inner = dead_record_envelope(record);
  REQUIRE(inner);
  CHECK(*inner == envelope);
  const auto value = boost::json::parse(record).as_object();
  CHECK(value.at("attempts").as_int64() == 5);
  CHECK(value.at("exit_code").as_int64() == 3);
  CHECK(value.at("signal").is_null());
  CHECK(value.at("timed_out").as_bool() == false);
  CHECK(value.at("stderr_tail").as_string() == "boom\n\xEF\xBF\xBD");  // invalid UTF-8 replaced
  CHECK(value.at("failed_at").as_string() == "1970-01-01T00:00:00.000Z");
  CHECK_FALSE(dead_record_envelope("{\"attempts\":1}"));
  CHECK_FALSE(dead_record_envelope("not json"));
}

TEST_CASE("an envelope's fields are read back by parse_envelope") {
  const auto summary = parse_envelope(envelope);
  REQUIRE(summary);
  CHECK(summary->id == event_id("note_deletion", std::string("42"), "{ \"NoteId\" : 182605 }"));
  CHECK(summary->delivery == "req-1");
  CHECK(summary->event_type == "note_deletion");
  CHECK(summary->ticket_id == std::optional<std::string>("42"));
  CHECK(summary->count == 1);
  CHECK_FALSE(parse_envelope("{\"id\":\"x\"}"));
  CHECK_FALSE(parse_envelope("[]"));
  CHECK_FALSE(parse_envelope("{"));
}

TEST_CASE("RFC 3339 timestamps read back what was written") {
  for (std::int64_t ms : {0LL, 1795779714774LL, 951782400123LL, -1LL, 253402300799999LL}) {
    INFO(ms);
    CHECK(parse_rfc3339_ms(format_rfc3339_ms(ms)) == std::optional<std::int64_t>(ms));
  }
  CHECK_FALSE(parse_rfc3339_ms("2026-11-27T11:00:00Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-13-27T11:00:00.000Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-11-27 11:00:00.000Z"));
}

TEST_CASE("base64 decodes what it encodes and refuses what is not base64") {
  for (std::string text : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"), std::string("foob"),
                           std::string("\xE9\xF8\xFF\xFE\x00", 5)}) {
    CHECK(base64_decode(base64_encode(text)) == std::optional<std::string>(text));
  }
  CHECK(base64_decode("Zm9vYmFy") == std::optional<std::string>("foobar"));
  CHECK_FALSE(base64_decode("Zm9"));
  CHECK_FALSE(base64_decode("Zm9v!mFy"));
  CHECK_FALSE(base64_decode("Z=9v"));
}
