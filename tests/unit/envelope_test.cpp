// envelope_test.cpp -- the queued message envelope: its fields, its exact event bytes, its content-derived id.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/envelope.hpp"
#include "core/digest.hpp"

using namespace boardhook::core;
namespace json = boost::json;

namespace {

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  INFO("text: " << text);
  REQUIRE_FALSE(ec);
  REQUIRE(value.is_object());
  return value.as_object();
}

// The id as documented, built here without the code under test's event_id().
std::string expected_id(const std::string& event_type, const std::optional<std::string>& ticket_id, const std::string& event) {
  Sha256 hash;
  hash.update(std::to_string(event_type.size()) + ":" + event_type + "|" + ticket_id.value_or("null") + "|" + event);
  return hash.hex_digest();
}

// `event` must outlive the fields: they only view it.
EnvelopeFields sample_fields(std::string_view event) {
  EnvelopeFields fields;
  fields.delivery = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  fields.received_at = "2024-02-29T12:34:56.789Z";
  fields.community = "nordkyst-outdoor";
  fields.event_type = "ticket_status_change";
  fields.ticket_id = "9051377";
  fields.index = 1;
  fields.count = 2;
  fields.event = event;
  return fields;
}

}  // namespace

TEST_CASE("the envelope carries every field with its value") {
  const std::string event = R"({"InboxLink":"https://x/y?ticketId=9051377","Ticket":{"Id":9051377}})";
  const std::string text = make_envelope(sample_fields(event));
  const json::object envelope = parse_object(text);
  CHECK(envelope.size() == 9);
  CHECK(envelope.at("id").as_string() == expected_id("ticket_status_change", "9051377", event));
  CHECK(envelope.at("delivery").as_string() == "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  CHECK(envelope.at("received_at").as_string() == "2024-02-29T12:34:56.789Z");
  CHECK(envelope.at("community").as_string() == "nordkyst-outdoor");
  CHECK(envelope.at("event_type").as_string() == "ticket_status_change");
  CHECK(envelope.at("ticket_id").as_int64() == 9051377);
  CHECK(envelope.at("index").as_int64() == 1);
  CHECK(envelope.at("count").as_int64() == 2);
  CHECK(envelope.at("event") == json::parse(event));
}

TEST_CASE("the envelope keys come in the documented order") {
  const std::string text = make_envelope(sample_fields("{}"));
  std::vector<std::string> keys;
  for (const auto& member : parse_object(text)) keys.emplace_back(member.key());
  CHECK(keys == std::vector<std::string>{"id", "delivery", "received_at", "community", "event_type", "ticket_id", "index",
                                          "count", "event"});
}

TEST_CASE("the event is the item's bytes exactly as received") {
  // Whitespace, escapes and key order that a re-serialiser would change.
  const std::string event = "{ \"b\" : \"\\u00e6\\ud83d\\ude00\\/\" ,\n\t\"a\":[1.50 , 2E3] }";
  const std::string text = make_envelope(sample_fields(event));
  const std::string tail = ",\"event\":" + event + "}";
  REQUIRE(text.size() > tail.size());
  CHECK(text.compare(text.size() - tail.size(), tail.size(), tail) == 0);
  parse_object(text);
}

TEST_CASE("a missing ticket id is JSON null in the envelope and in the id") {
  EnvelopeFields fields = sample_fields(R"({"NoteId":1})");
  fields.ticket_id.reset();
  const json::object envelope = parse_object(make_envelope(fields));
  CHECK(envelope.at("ticket_id").is_null());
  CHECK(envelope.at("id").as_string() == expected_id("ticket_status_change", std::nullopt, R"({"NoteId":1})"));
}

TEST_CASE("the largest unsigned ticket id survives as a JSON number") {
  EnvelopeFields fields = sample_fields("{}");
  fields.ticket_id = "18446744073709551615";
  const json::object envelope = parse_object(make_envelope(fields));
  CHECK(envelope.at("ticket_id").as_uint64() == 18446744073709551615u);
}

TEST_CASE("text fields with quotes controls and non-ASCII are escaped and survive a round trip") {
  EnvelopeFields fields = sample_fields("{}");
  const std::string community = "bl\xc3\xa5" "b\xc3\xa6r \"kunde\\service\"\n\x01 \xf0\x9f\x98\x80";
  const std::string delivery = "req\"1\\";
  fields.community = community;
  fields.delivery = delivery;
  const json::object envelope = parse_object(make_envelope(fields));
  CHECK(envelope.at("community").as_string() == community);
  CHECK(envelope.at("delivery").as_string() == delivery);
}

TEST_CASE("an empty delivery id is an empty string") {
  EnvelopeFields fields = sample_fields("{}");
  fields.delivery = "";
  CHECK(parse_object(make_envelope(fields)).at("delivery").as_string() == "");
}

TEST_CASE("event_id matches a hand-computed SHA-256") {
  // python3 -c 'import hashlib;print(hashlib.sha256(b"1:x|1|{}").hexdigest())'
  CHECK(event_id("x", std::string("1"), "{}") == "300f55dd74ed8ddcbde57b3ceb84c288a10d43238b86867af86366beccbf8e9c");
  // python3 -c 'import hashlib;print(hashlib.sha256(b"1:x|null|{}").hexdigest())'
  CHECK(event_id("x", std::nullopt, "{}") == "fc7405481e6c5f0b660126169fc41401f3236bcd0d5b7152bc473fa48f28ad4a");
  // python3 -c 'import hashlib;print(hashlib.sha256(b"13:note_deletion|5120447|{\"NoteId\":274113}").hexdigest())'
  CHECK(event_id("note_deletion", std::string("5120447"), R"({"NoteId":274113})") ==
        "c052086021d6040762b5d49a064e107d656b811b4f29cc4dc6f88d68a65f8c4b");
}

TEST_CASE("the envelope id is the event_id of its type ticket and item") {
  const EnvelopeFields fields = sample_fields(R"({"k":"v"})");
  const json::object envelope = parse_object(make_envelope(fields));
  CHECK(envelope.at("id").as_string() == event_id(fields.event_type, fields.ticket_id, fields.event));
}

TEST_CASE("a redelivered event gets the same id whatever the delivery time and position") {
  EnvelopeFields first = sample_fields(R"({"k":"v"})");
  EnvelopeFields again = first;
  again.delivery = "another-request";
  again.received_at = "2030-01-01T00:00:00.000Z";
  again.index = 0;
  again.count = 1;
  again.community = "renamed-community";
  CHECK(parse_object(make_envelope(first)).at("id") == parse_object(make_envelope(again)).at("id"));
}

TEST_CASE("the id changes with the event type the ticket id and any byte of the item") {
  const std::string base = event_id("t", std::string("1"), R"({"a":1})");
  CHECK(event_id("u", std::string("1"), R"({"a":1})") != base);
  CHECK(event_id("t", std::string("2"), R"({"a":1})") != base);
  CHECK(event_id("t", std::nullopt, R"({"a":1})") != base);
  CHECK(event_id("t", std::string("1"), R"({"a":2})") != base);
  CHECK(event_id("t", std::string("1"), R"({"a": 1})") != base);
}

TEST_CASE("the length prefix keeps differently split inputs apart") {
  // Without the length prefix both would hash "a|b|null|{}".
  CHECK(event_id("a|b", std::nullopt, "{}") != event_id("a", std::string("b|null"), "{}"));
  CHECK(event_id("a|b", std::nullopt, "{}") == expected_id("a|b", std::nullopt, "{}"));
}

// ---------------------------------------------------------------- parse_envelope

TEST_CASE("parse_envelope reads back every field make_envelope wrote") {
  const std::string event = R"({"Ticket":{"Id":9051377}})";
  const EnvelopeFields fields = sample_fields(event);
  const auto summary = parse_envelope(make_envelope(fields));
  REQUIRE(summary);
  CHECK(summary->id == event_id(fields.event_type, fields.ticket_id, fields.event));
  CHECK(summary->delivery == fields.delivery);
  CHECK(summary->received_at == fields.received_at);
  CHECK(summary->community == fields.community);
  CHECK(summary->event_type == fields.event_type);
  CHECK(summary->ticket_id == fields.ticket_id);
  CHECK(summary->index == 1);
  CHECK(summary->count == 2);
}

TEST_CASE("parse_envelope reads a null a negative and the largest ticket id") {
  EnvelopeFields fields = sample_fields("{}");
  fields.ticket_id.reset();
  CHECK_FALSE(parse_envelope(make_envelope(fields))->ticket_id);
  fields.ticket_id = "-7";
  CHECK(parse_envelope(make_envelope(fields))->ticket_id == std::optional<std::string>("-7"));
  fields.ticket_id = "18446744073709551615";
  CHECK(parse_envelope(make_envelope(fields))->ticket_id == std::optional<std::string>("18446744073709551615"));
}

TEST_CASE("parse_envelope decodes escaped text fields") {
  EnvelopeFields fields = sample_fields("{}");
  const std::string community = "bl\xc3\xa5" "b\xc3\xa6r \"x\"\n";
  fields.community = community;
  CHECK(parse_envelope(make_envelope(fields))->community == community);
}

TEST_CASE("parse_envelope refuses text that is not an envelope") {
  const std::string good = make_envelope(sample_fields("{}"));
  REQUIRE(parse_envelope(good));
  for (const std::string& text :
       {std::string(""), std::string("not json"), std::string("[]"), std::string("{}"), good.substr(0, good.size() - 1),
        std::string(R"({"event_type":"t","index":0,"count":1,"event":{}})"),
        std::string(R"({"id":1,"event_type":"t","index":0,"count":1,"event":{}})"),
        std::string(R"({"id":"x","index":0,"count":1,"event":{}})"),
        std::string(R"({"id":"x","event_type":"","index":0,"count":1,"event":{}})"),
        std::string(R"({"id":"x","event_type":"t","index":-1,"count":1,"event":{}})"),
        std::string(R"({"id":"x","event_type":"t","index":0,"count":"1","event":{}})"),
        std::string(R"({"id":"x","event_type":"t","index":0.5,"count":1,"event":{}})"),
        std::string(R"({"id":"x","event_type":"t","count":1,"event":{}})"),
        std::string(R"({"id":"x","event_type":"t","index":0,"count":1})")}) {
    INFO("text: " << text);
    CHECK_FALSE(parse_envelope(text));
  }
}
