// decide_test.cpp -- every row of the request/answer table: verification GETs, event POSTs, refusals, 405, 503.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/decide.hpp"
#include "core/digest.hpp"
#include "core/rfc3339.hpp"

using namespace boardhook::core;
using namespace std::string_literals;
namespace json = boost::json;

namespace {

constexpr std::string_view good_token = "fjord-lantern-7731";
constexpr std::int64_t received_at_ms = 1709210096789;  // 2024-02-29T12:34:56.789Z
constexpr std::string_view request_id = "5f3c9a0e7d1b2a4c6e8f0a1b2c3d4e5f";

Config test_config() {
  Config config;
  config.verify_tokens = {std::string(good_token)};
  return config;
}

Decision get(std::string_view query, const Config& config = test_config()) {
  Request request;
  request.method = "GET";
  request.query = query;
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  return decide(request, config);
}

Decision post(std::string_view body, const Config& config = test_config()) {
  Request request;
  request.method = "POST";
  request.body = body;
  request.body_bytes = body.size();
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  return decide(request, config);
}

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  INFO("not JSON: " << text.substr(0, 300));
  REQUIRE_FALSE(ec);
  return value;
}

bool is_json(std::string_view text) {
  boost::system::error_code ec;
  json::parse(text, ec);
  return !ec;
}

// Checks a JSON error answer: status, content type, and the machine-readable code.
json::object require_error(const Response& response, int status, std::string_view code) {
  INFO("response body: " << response.body);
  CHECK(response.status == status);
  CHECK(response.content_type == "application/json");
  json::value body = parse_json(response.body);
  REQUIRE(body.is_object());
  REQUIRE(body.as_object().contains("error"));
  CHECK(body.as_object().at("error").as_string() == code);
  return body.as_object();
}

std::string base64_decode(std::string_view text) {
  const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  REQUIRE(text.size() % 4 == 0);
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    if (c == '=') break;
    const std::size_t value = alphabet.find(c);
    REQUIRE(value != std::string_view::npos);
    bits = bits << 6 | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>(bits >> count & 0xFF);
    }
  }
  return out;
}

// The kept record of a refused POST, parsed, with its common fields checked.
json::object require_record(const Decision& decision, int status, std::string_view reason, std::size_t body_bytes,
                            const Config& config = test_config()) {
  REQUIRE(decision.reject);
  CHECK(decision.reject->rejected_key == config.queue_prefix + ":rejected");
  CHECK(decision.reject->keep == config.rejected_keep);
  json::value record = parse_json(decision.reject->record);
  REQUIRE(record.is_object());
  json::object& object = record.as_object();
  CHECK(object.at("at").as_string() == format_rfc3339_ms(received_at_ms));
  CHECK(object.at("request_id").as_string() == request_id);
  CHECK(object.at("status").as_int64() == status);
  CHECK(object.at("reason").as_string() == reason);
  CHECK(object.at("detail").is_string());
  CHECK(object.at("body_bytes").to_number<std::uint64_t>() == body_bytes);
  return object;
}

// The original bytes a record kept, decoding base64 when the record says so.
std::string kept_bytes(const json::object& record) {
  const std::string_view encoding = record.at("body_encoding").as_string();
  const std::string_view body = record.at("body").as_string();
  if (encoding == "base64") return base64_decode(body);
  REQUIRE(encoding == "utf-8");
  return std::string(body);
}

const std::string note_deletion =
    R"({"CommunityName":"northwindSupport","EventType":"note_deletion","TicketId":5120447,"Events":[{"NoteId":274113}]})";

std::string with_message(std::string_view message) {
  return R"({"CommunityName":"c","EventType":"ticket_status_change","TicketId":1,"Events":[{"Ticket":{"Id":1,"Message":")" +
         std::string(message) + R"("}}]})";
}

}  // namespace

// ---------------------------------------------------------------- verification GET

TEST_CASE("a verification GET with the right token echoes the challenge") {
  const Decision decision = get("challenge=4071937265&verifyToken=fjord-lantern-7731");
  CHECK(decision.response.status == 200);
  CHECK(decision.response.content_type == "text/plain; charset=utf-8");
  CHECK(decision.response.body == "4071937265");
  CHECK(decision.response.headers.empty());
  CHECK_FALSE(decision.store);
  CHECK_FALSE(decision.reject);
  CHECK(decision.log_level == LogLevel::info);
}

TEST_CASE("the echoed challenge is URL-decoded") {
  CHECK(get("challenge=a%2Bb+c%20d%7E&verifyToken=fjord-lantern-7731").response.body == "a+b c d~");
  CHECK(get("challenge=%3C%21%3E&verifyToken=fjord%2Dlantern-7731").response.body == "<!>");
}

TEST_CASE("verification parameters are found in any order among other parameters") {
  for (const char* query : {"verifyToken=fjord-lantern-7731&challenge=99", "site=north&challenge=99&a&&verifyToken=fjord-lantern-7731&z=1",
                            "verify%54oken=fjord-lantern-7731&%63hallenge=99"}) {
    INFO(query);
    const Decision decision = get(query);
    CHECK(decision.response.status == 200);
    CHECK(decision.response.body == "99");
  }
}

TEST_CASE("every configured token is accepted while tokens are rotated") {
  Config config = test_config();
  config.verify_tokens = {"old-token-1111", "new-token-2222"};
  CHECK(get("challenge=1&verifyToken=old-token-1111", config).response.body == "1");
  CHECK(get("challenge=2&verifyToken=new-token-2222", config).response.body == "2");
  CHECK(get("challenge=3&verifyToken=new-token-2223", config).response.status == 403);
  CHECK(get("challenge=4&verifyToken=old-token-1111,new-token-2222", config).response.status == 403);
}

TEST_CASE("a verification GET with a wrong token is refused with 403 and the challenge is not echoed") {
  for (const char* token : {"fjord-lantern-7713", "fjord-lantern-773", "fjord-lantern-77311", "FJORD-LANTERN-7731", "x"}) {
    INFO("token " << token);
    const Decision decision = get("challenge=8823001457&verifyToken="s + token);
    require_error(decision.response, 403, "invalid_verify_token");
    CHECK_THAT(decision.response.body, !Catch::Contains("8823001457"));
    CHECK_FALSE(decision.store);
    CHECK_FALSE(decision.reject);
    CHECK(decision.log_level == LogLevel::warn);
  }
}

TEST_CASE("a verification GET without a token is refused with 403 and the challenge is not echoed") {
  for (const char* query : {"challenge=8823001457", "challenge=8823001457&verifyToken=", "challenge=8823001457&verifyToken"}) {
    INFO(query);
    const Decision decision = get(query);
    require_error(decision.response, 403, "missing_verify_token");
    CHECK_THAT(decision.response.body, !Catch::Contains("8823001457"));
  }
}

TEST_CASE("the token is checked before the challenge") {
  require_error(get("verifyToken=wrong-token").response, 403, "invalid_verify_token");
  require_error(get("").response, 403, "missing_verify_token");
}

TEST_CASE("a verification GET without a challenge is refused with 400") {
  for (const char* query : {"verifyToken=fjord-lantern-7731", "challenge=&verifyToken=fjord-lantern-7731",
                            "challenge&verifyToken=fjord-lantern-7731", "Challenge=1&verifyToken=fjord-lantern-7731"}) {
    INFO(query);
    const Decision decision = get(query);
    require_error(decision.response, 400, "missing_challenge");
    CHECK_FALSE(decision.store);
  }
}

TEST_CASE("a challenge with CR LF NUL, other control characters or broken UTF-8 is refused as invalid_challenge") {
  for (const char* challenge : {"12%0D34", "12%0A34", "12%0d%0aSet-Cookie:%20x=1", "12%0034", "%09", "12%7F", "12%C2%85",
                                "12%C2%9F", "%FF", "12%C3", "12%ED%A0%80"}) {
    INFO("challenge " << challenge);
    const Decision decision = get("verifyToken=fjord-lantern-7731&challenge="s + challenge);
    require_error(decision.response, 400, "invalid_challenge");
    CHECK_THAT(decision.response.body, !Catch::Contains("Set-Cookie"));
    CHECK_THAT(decision.response.body, !Catch::Contains("12"));
  }
}

TEST_CASE("a challenge of non-ASCII text is echoed byte for byte, since the protocol calls it opaque") {
  CHECK(get("verifyToken=fjord-lantern-7731&challenge=caf%C3%A9").response.body == "caf\xC3\xA9");
  CHECK(get("verifyToken=fjord-lantern-7731&challenge=%E2%9C%93%20%F0%9F%98%80%C2%A0x").response.body ==
        "\xE2\x9C\x93 \xF0\x9F\x98\x80\xC2\xA0x");
  CHECK(get("verifyToken=fjord-lantern-7731&challenge=a%E2%80%A8b").response.body == "a\xE2\x80\xA8" "b");
  const Decision decision = get("verifyToken=fjord-lantern-7731&challenge=%C2%A0");
  CHECK(decision.response.status == 200);
  CHECK(decision.response.content_type == "text/plain; charset=utf-8");
}

TEST_CASE("a challenge of 256 bytes is echoed and one of 257 bytes is refused") {
  const std::string longest(max_challenge_bytes, '7');
  REQUIRE(longest.size() == 256);
  CHECK(get("verifyToken=fjord-lantern-7731&challenge=" + longest).response.body == longest);
  const Decision too_long = get("verifyToken=fjord-lantern-7731&challenge=" + longest + "7");
  require_error(too_long.response, 400, "invalid_challenge");
  CHECK_THAT(too_long.response.body, !Catch::Contains(longest));
}

TEST_CASE("the challenge length limit counts decoded bytes") {
  // 200 encoded characters that decode to 100 bytes fit.
  std::string encoded;
  for (int i = 0; i < 100; ++i) encoded += "%41";
  CHECK(get("verifyToken=fjord-lantern-7731&challenge=" + encoded).response.body == std::string(100, 'A'));
}

TEST_CASE("a repeated verifyToken or challenge is refused as duplicate_parameter") {
  for (const char* query : {"challenge=1&challenge=2&verifyToken=fjord-lantern-7731",
                            "challenge=1&challenge=1&verifyToken=fjord-lantern-7731",
                            "challenge=1&verifyToken=fjord-lantern-7731&verifyToken=fjord-lantern-7731",
                            "challenge=1&verifyToken=wrong&verifyToken=fjord-lantern-7731",
                            "challenge=1&verifyToken=fjord-lantern-7731&verify%54oken=x"}) {
    INFO(query);
    const Decision decision = get(query);
    require_error(decision.response, 400, "duplicate_parameter");
    CHECK(decision.response.body.find("\"1\"") == std::string::npos);
  }
}

TEST_CASE("an empty configured token never matches an empty offered one") {
  Config config = test_config();
  config.verify_tokens = {""};
  CHECK(get("challenge=1&verifyToken=", config).response.status == 403);
  CHECK(get("challenge=1&verifyToken", config).response.status == 403);
  CHECK(get("challenge=1", config).response.status == 403);
  config.verify_tokens.clear();
  CHECK(get("challenge=1&verifyToken=", config).response.status == 403);
  CHECK(get("challenge=1&verifyToken=anything", config).response.status == 403);
}

TEST_CASE("verification log messages never hold the token or the challenge") {
  Config config = test_config();
  config.verify_tokens = {"TOKENMARK-good-4242"};
  const std::string queries[] = {
      "challenge=CHALLENGEMARK1&verifyToken=TOKENMARK-good-4242",                         // answered
      "challenge=CHALLENGEMARK1&verifyToken=TOKENMARK-bad-4242",                          // wrong token
      "challenge=CHALLENGEMARK1",                                                         // no token
      "verifyToken=TOKENMARK-good-4242",                                                  // no challenge
      "challenge=CHALLENGEMARK1%0A&verifyToken=TOKENMARK-good-4242",                      // invalid challenge
      "challenge=CHALLENGEMARK1" + std::string(300, 'x') + "&verifyToken=TOKENMARK-good-4242",  // too long
      "challenge=CHALLENGEMARK1&challenge=CHALLENGEMARK2&verifyToken=TOKENMARK-good-4242",       // repeated
      "challenge=CHALLENGEMARK1&verifyToken=TOKENMARK-good-4242&verifyToken=TOKENMARK-bad-4242",  // repeated
  };
  for (const std::string& query : queries) {
    INFO(query);
    const Decision decision = get(query, config);
    CHECK_FALSE(decision.log_message.empty());
    CHECK_THAT(decision.log_message, !Catch::Contains("TOKENMARK"));
    CHECK_THAT(decision.log_message, !Catch::Contains("CHALLENGEMARK"));
    CHECK_THAT(decision.log_message, Catch::Contains(std::string(request_id)));
  }
}

// ---------------------------------------------------------------- event POST

TEST_CASE("a POST with a valid envelope is answered 200 with its event to store") {
  const Decision decision = post(note_deletion);
  CHECK(decision.response.status == 200);
  CHECK(decision.response.content_type == "application/json");
  CHECK(parse_json(decision.response.body) == parse_json(R"({"stored":1})"));
  REQUIRE(decision.store);
  CHECK(decision.store->queue_key == "boardhook:queue:note_deletion");
  CHECK(decision.store->event_types_key == "boardhook:event-types");
  CHECK(decision.store->counters_key == "boardhook:counters");
  CHECK(decision.store->event_type == "note_deletion");
  REQUIRE(decision.store->envelopes.size() == 1);
  CHECK_FALSE(decision.reject);
  CHECK(decision.log_level == LogLevel::info);
}

TEST_CASE("the stored envelope carries the request's fields and the item's exact bytes") {
  const Decision decision = post(note_deletion);
  REQUIRE(decision.store);
  const std::string& text = decision.store->envelopes.at(0);
  const json::object envelope = parse_json(text).as_object();
  const std::string item = R"({"NoteId":274113})";
  CHECK(envelope.at("id").as_string() == sha256_hex("13:note_deletion|5120447|" + item));
  CHECK(envelope.at("id").as_string() == "c052086021d6040762b5d49a064e107d656b811b4f29cc4dc6f88d68a65f8c4b");
  CHECK(envelope.at("delivery").as_string() == request_id);
  CHECK(envelope.at("received_at").as_string() == format_rfc3339_ms(received_at_ms));
  CHECK(envelope.at("received_at").as_string() == "2024-02-29T12:34:56.789Z");
  CHECK(envelope.at("community").as_string() == "northwindSupport");
  CHECK(envelope.at("event_type").as_string() == "note_deletion");
  CHECK(envelope.at("ticket_id").as_int64() == 5120447);
  CHECK(envelope.at("index").as_int64() == 0);
  CHECK(envelope.at("count").as_int64() == 1);
  CHECK_THAT(text, Catch::EndsWith(",\"event\":" + item + "}"));
}

TEST_CASE("envelopes are stored in Events order") {
  const std::string body =
      "{\"CommunityName\":\"c\",\"EventType\":\"ticket_status_change\",\"Events\":[\n"
      "  {\"Ticket\":{\"Id\":11},\"n\":\"first\"},\n  {\"Ticket\":{\"Id\":12},\"n\":\"second\"} ,{\"n\":\"third\"}\n]}";
  const Decision decision = post(body);
  REQUIRE(decision.store);
  const auto& envelopes = decision.store->envelopes;
  REQUIRE(envelopes.size() == 3);
  const char* raw[] = {R"({"Ticket":{"Id":11},"n":"first"})", R"({"Ticket":{"Id":12},"n":"second"})", R"({"n":"third"})"};
  const json::value ticket_ids[] = {11, 12, nullptr};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("envelope " << i);
    const json::object envelope = parse_json(envelopes[i]).as_object();
    CHECK(envelope.at("index").as_int64() == static_cast<std::int64_t>(i));
    CHECK(envelope.at("count").as_int64() == 3);
    CHECK(envelope.at("ticket_id") == ticket_ids[i]);
    CHECK_THAT(envelopes[i], Catch::EndsWith(",\"event\":"s + raw[i] + "}"));
  }
  CHECK(parse_json(decision.response.body) == parse_json(R"({"stored":3})"));
}

TEST_CASE("raw UTF-8 in a stored item is kept byte for byte") {
  const std::string item = "{\"Message\":\"bl\xc3\xa5" "b\xc3\xa6r \xe2\x80\x94 \xf0\x9f\x98\x80\xc2\xa0\"}";
  const std::string community = "bl\xc3\xa5" "b\xc3\xa6r";
  const Decision decision = post(R"({"CommunityName":")" + community + R"(","EventType":"t","Events":[)" + item + "]}");
  REQUIRE(decision.store);
  const std::string& text = decision.store->envelopes.at(0);
  CHECK_THAT(text, Catch::EndsWith(",\"event\":" + item + "}"));
  CHECK(parse_json(text).at("community").as_string() == community);
}

TEST_CASE("a POST with an unknown event type is stored in a queue of its own") {
  const Decision decision = post(R"({"CommunityName":"c","EventType":"reply_created","Events":[{"Reply":{"Id":3}}]})");
  CHECK(decision.response.status == 200);
  REQUIRE(decision.store);
  CHECK(decision.store->queue_key == "boardhook:queue:reply_created");
  CHECK(decision.store->event_type == "reply_created");
  CHECK(decision.store->envelopes.size() == 1);
  CHECK_THAT(decision.log_message, Catch::Contains("not a documented type"));
}

TEST_CASE("the Redis keys use the configured prefix") {
  Config config = test_config();
  config.queue_prefix = "sb.test:v2";
  const Decision stored = post(note_deletion, config);
  REQUIRE(stored.store);
  CHECK(stored.store->queue_key == "sb.test:v2:queue:note_deletion");
  CHECK(stored.store->event_types_key == "sb.test:v2:event-types");
  CHECK(stored.store->counters_key == "sb.test:v2:counters");
  const Decision refused = post("{", config);
  REQUIRE(refused.reject);
  CHECK(refused.reject->rejected_key == "sb.test:v2:rejected");
}

TEST_CASE("an empty Events array is answered 200 with nothing to store") {
  const Decision decision = post(R"({"CommunityName":"c","EventType":"ticket_status_change","TicketId":1,"Events":[]})");
  CHECK(decision.response.status == 200);
  CHECK(parse_json(decision.response.body) == parse_json(R"({"stored":0})"));
  CHECK_FALSE(decision.store);
  CHECK_FALSE(decision.reject);
  CHECK(decision.log_level == LogLevel::warn);
  CHECK_THAT(decision.log_message, Catch::Contains("empty"));
}

TEST_CASE("the POST's query string does not matter") {
  Request request;
  request.method = "POST";
  request.query = "challenge=1&verifyToken=fjord-lantern-7731";
  request.body = note_deletion;
  request.body_bytes = note_deletion.size();
  const Decision decision = decide(request, test_config());
  CHECK(decision.response.status == 200);
  CHECK(decision.store);
}

// ---------------------------------------------------------------- refused POSTs

TEST_CASE("a body that is not JSON is refused with 400 invalid_json and kept byte for byte") {
  const std::string body = "{\"CommunityName\": \"c\", \"EventType\": \"t\", \"Events\": [ {\"a\":\"\xc3\xa6\\n\"}";
  const Decision decision = post(body);
  require_error(decision.response, 400, "invalid_json");
  CHECK_FALSE(decision.store);
  CHECK(decision.log_level == LogLevel::warn);
  const json::object record = require_record(decision, 400, "invalid_json", body.size());
  CHECK(record.at("body_encoding").as_string() == "utf-8");
  CHECK(record.at("body_truncated").as_bool() == false);
  CHECK(record.at("body").as_string() == body);
}

TEST_CASE("a body that is not UTF-8 is refused with 400 invalid_encoding and kept as base64") {
  const std::string body = "{\"CommunityName\":\"caf\xe9 \xf8l \xff\xfe\",\"EventType\":\"t\",\"Events\":[]}";
  const Decision decision = post(body);
  require_error(decision.response, 400, "invalid_encoding");
  CHECK_FALSE(decision.store);
  const json::object record = require_record(decision, 400, "invalid_encoding", body.size());
  CHECK(record.at("body_encoding").as_string() == "base64");
  CHECK(record.at("body_truncated").as_bool() == false);
  CHECK(base64_decode(record.at("body").as_string()) == body);
}

TEST_CASE("an empty body is refused with 400 empty_body and a record of the empty request") {
  const Decision decision = post("");
  require_error(decision.response, 400, "empty_body");
  CHECK_FALSE(decision.store);
  const json::object record = require_record(decision, 400, "empty_body", 0);
  CHECK(record.at("body").as_string() == "");
  CHECK(record.at("body_truncated").as_bool() == false);
}

TEST_CASE("an envelope violation is refused with 400 invalid_envelope naming the field") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"EventType":"t","Events":[]})", "CommunityName"},
      {R"({"CommunityName":"","EventType":"t","Events":[]})", "CommunityName"},
      {R"({"CommunityName":"c","Events":[]})", "EventType"},
      {R"({"CommunityName":"c","EventType":42,"Events":[]})", "EventType"},
      {R"({"CommunityName":"c","EventType":"","Events":[]})", "EventType"},
      {R"({"CommunityName":"c","EventType":"t","TicketId":"9051377","Events":[]})", "TicketId"},
      {R"({"CommunityName":"c","EventType":"t","TicketId":1.5,"Events":[]})", "TicketId"},
      {R"({"CommunityName":"c","EventType":"t"})", "Events"},
      {R"({"CommunityName":"c","EventType":"t","Events":{"a":1}})", "Events"},
      {R"({"CommunityName":"c","EventType":"t","Events":[{},"x"]})", "Events[1]"},
      {R"([{"CommunityName":"c","EventType":"t","Events":[]}])", "top level"},
  };
  for (const auto& [body, field] : cases) {
    INFO(body);
    const Decision decision = post(body);
    const json::object error = require_error(decision.response, 400, "invalid_envelope");
    CHECK_THAT(std::string(error.at("detail").as_string()), Catch::Contains(field));
    CHECK_FALSE(decision.store);
    const json::object record = require_record(decision, 400, "invalid_envelope", std::string_view(body).size());
    CHECK(record.at("body").as_string() == body);
    CHECK_THAT(std::string(record.at("detail").as_string()), Catch::Contains(field));
  }
}

TEST_CASE("duplicate top-level keys are refused with 400") {
  for (const char* body : {R"({"CommunityName":"c","EventType":"a","EventType":"b","Events":[]})",
                           R"({"CommunityName":"c","EventType":"t","Events":[{"x":1}],"\u0045vents":[{"y":2}]})"}) {
    INFO(body);
    const Decision decision = post(body);
    require_error(decision.response, 400, "invalid_envelope");
    CHECK_FALSE(decision.store);
    CHECK(decision.reject);
  }
}

TEST_CASE("a refused duplicate key gives a valid JSON answer and record and a one-line log") {
  // Keys are the sender's text: quoting one back could cut it inside a character (invalid UTF-8 in
  // the answer and the record) or carry a decoded newline into the log line.
  const std::string key = std::string(39, 'k') + "\\u00e6";
  for (const std::string& body : {R"({"CommunityName":"c","EventType":"t","Events":[],")" + key + R"(":1,")" + key + R"(":2})",
                                   std::string(R"({"CommunityName":"c","EventType":"t","Events":[],"a\nFORGED":1,"a\nFORGED":2})")}) {
    INFO(body);
    const Decision decision = post(body);
    CHECK(decision.response.status == 400);
    CHECK(is_json(decision.response.body));
    REQUIRE(decision.reject);
    CHECK(is_json(decision.reject->record));
    CHECK(decision.log_message.find('\n') == std::string::npos);
  }
}

TEST_CASE("a body over max_body_bytes is refused with 413 body_too_large and its first part kept") {
  Config config = test_config();
  config.max_body_bytes = 1024;
  const std::string first_part = with_message(std::string(2000, 'A'));
  Request request;
  request.method = "POST";
  request.body = first_part;  // the edge passes only what it read before giving up
  request.body_bytes = 64u << 20;
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  const Decision decision = decide(request, config);
  require_error(decision.response, 413, "body_too_large");
  CHECK_FALSE(decision.store);
  const json::object record = require_record(decision, 413, "body_too_large", 64u << 20, config);
  CHECK(record.at("body_truncated").as_bool() == true);
  CHECK(kept_bytes(record) == first_part);
}

TEST_CASE("a body of exactly max_body_bytes is accepted and one byte more is refused with 413") {
  Config config = test_config();
  config.max_body_bytes = 1024;
  const std::string prefix = with_message("");
  const std::string fits = with_message(std::string(1024 - prefix.size(), 'A'));
  REQUIRE(fits.size() == 1024);
  CHECK(post(fits, config).response.status == 200);
  const std::string over = with_message(std::string(1025 - prefix.size(), 'A'));
  const Decision decision = post(over, config);
  require_error(decision.response, 413, "body_too_large");
  CHECK_FALSE(decision.store);
  const json::object record = require_record(decision, 413, "body_too_large", 1025, config);
  CHECK(record.at("body").as_string() == over);
}

TEST_CASE("a body shorter than its declared size is refused with 400") {
  Request request;
  request.method = "POST";
  request.body = note_deletion;
  request.body_bytes = note_deletion.size() + 10;
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  const Decision decision = decide(request, test_config());
  require_error(decision.response, 400, "incomplete_body");
  CHECK_FALSE(decision.store);
  const json::object record = require_record(decision, 400, "incomplete_body", note_deletion.size() + 10);
  CHECK(record.at("body").as_string() == note_deletion);
  CHECK(record.at("body_truncated").as_bool() == true);
}

TEST_CASE("a kept body is cut at 64 KiB") {
  const std::string body = "{" + std::string(100'000, 'x');
  const Decision decision = post(body);
  require_error(decision.response, 400, "invalid_json");
  const json::object record = require_record(decision, 400, "invalid_json", body.size());
  CHECK(record.at("body_truncated").as_bool() == true);
  CHECK(record.at("body_encoding").as_string() == "utf-8");
  CHECK(record.at("body").as_string() == body.substr(0, 64 * 1024));
}

TEST_CASE("a body of exactly 64 KiB is kept whole") {
  const std::string body = "{" + std::string(64 * 1024 - 1, 'x');
  const json::object record = require_record(post(body), 400, "invalid_json", body.size());
  CHECK(record.at("body_truncated").as_bool() == false);
  CHECK(record.at("body").as_string() == body);
}

TEST_CASE("a kept UTF-8 body is cut before a character that crosses 64 KiB") {
  std::string body = "xx";
  while (body.size() < 70'000) body += "\xe2\x80\x94";  // em dashes, 3 bytes each, from offset 2
  // The dash at 65534..65536 crosses the 64 KiB cut, so only 65534 bytes can be kept.
  REQUIRE((static_cast<unsigned char>(body[65'536]) & 0xC0) == 0x80);
  const json::object record = require_record(post(body), 400, "invalid_json", body.size());
  CHECK(record.at("body_encoding").as_string() == "utf-8");
  CHECK(record.at("body_truncated").as_bool() == true);
  CHECK(record.at("body").as_string() == body.substr(0, 65'534));
}

TEST_CASE("a kept body that is not UTF-8 is cut at 64 KiB before base64") {
  const std::string body = "\xff" + std::string(100'000, 'y');
  const json::object record = require_record(post(body), 400, "invalid_encoding", body.size());
  CHECK(record.at("body_encoding").as_string() == "base64");
  CHECK(record.at("body_truncated").as_bool() == true);
  CHECK(base64_decode(record.at("body").as_string()) == body.substr(0, 64 * 1024));
}

TEST_CASE("the reject list is trimmed to the configured keep") {
  Config config = test_config();
  config.rejected_keep = 17;
  const Decision decision = post("nope", config);
  REQUIRE(decision.reject);
  CHECK(decision.reject->keep == 17);
}

TEST_CASE("no record is kept when the reject list is configured off") {
  Config config = test_config();
  config.rejected_keep = 0;
  const Decision decision = post("nope", config);
  require_error(decision.response, 400, "invalid_json");
  CHECK_FALSE(decision.reject);
}

TEST_CASE("the reject record holds time request id status reason and detail") {
  const std::string body = R"({"CommunityName":"c","Events":[]})";
  const Decision decision = post(body);
  const json::object record = require_record(decision, 400, "invalid_envelope", body.size());
  CHECK(record.at("at").as_string() == "2024-02-29T12:34:56.789Z");
  CHECK_THAT(std::string(record.at("detail").as_string()), Catch::Contains("EventType"));
  const json::object answer = parse_json(decision.response.body).as_object();
  CHECK(record.at("detail") == answer.at("detail"));
}

TEST_CASE("POST log messages and answers never hold body content") {
  const std::string marker = "PII-MARKER-7e1d";
  Config config = test_config();
  config.max_body_bytes = 4096;
  const std::string stored = with_message(marker);
  const std::string bodies[] = {
      stored,                                                                                // stored
      stored.substr(0, stored.size() - 4),                                                   // not JSON
      with_message(marker + "\xe9"),                                                         // not UTF-8
      R"({"CommunityName":"c","EventType":"t","TicketId":")" + marker + R"(","Events":[]})",  // bad TicketId
      R"({"CommunityName":"c","EventType":")" + marker + std::string(200, 'x') + R"(","Events":[]})",  // long EventType
      R"({"CommunityName":"c","EventType":"t","Events":[")" + marker + R"("]})",             // bad item
      R"([")" + marker + R"("])",                                                            // not an object
      with_message(marker + std::string(5000, 'A')),                                         // too large
  };
  for (const std::string& body : bodies) {
    INFO(body.substr(0, 120));
    const Decision decision = post(body, config);
    CHECK_FALSE(decision.log_message.empty());
    CHECK_THAT(decision.log_message, !Catch::Contains("MARKER"));
    CHECK_THAT(decision.response.body, !Catch::Contains("MARKER"));
    CHECK_THAT(decision.log_message, Catch::Contains(std::string(request_id)));
  }
}

// ---------------------------------------------------------------- other methods, storage

TEST_CASE("any other method is refused with 405 and an Allow header") {
  for (const char* method : {"HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "post", ""}) {
    INFO("method [" << method << "]");
    Request request;
    request.method = method;
    request.query = "challenge=1&verifyToken=fjord-lantern-7731";
    request.body = note_deletion;
    request.body_bytes = note_deletion.size();
    const Decision decision = decide(request, test_config());
    require_error(decision.response, 405, "method_not_allowed");
    REQUIRE(decision.response.headers.size() == 1);
    CHECK(decision.response.headers[0].first == "Allow");
    CHECK(decision.response.headers[0].second == "GET, POST");
    CHECK_FALSE(decision.store);
    CHECK_FALSE(decision.reject);
  }
}

TEST_CASE("a method name that is not plain letters is not written to the log") {
  Request request;
  request.method = "GET\r\nforged log line";
  const Decision decision = decide(request, test_config());
  CHECK(decision.response.status == 405);
  CHECK_THAT(decision.log_message, !Catch::Contains("forged"));
  CHECK(decision.log_message.find('\n') == std::string::npos);
}

TEST_CASE("when storage fails the answer is 503 with Retry-After") {
  const Response response = storage_unavailable_response();
  require_error(response, 503, "storage_unavailable");
  REQUIRE(response.headers.size() == 1);
  CHECK(response.headers[0].first == "Retry-After");
  CHECK(response.headers[0].second == std::to_string(retry_after_seconds));
  CHECK(retry_after_seconds > 0);
}

namespace {

Decision post_with_query(std::string_view body, std::string_view query, const Config& config) {
  Request request;
  request.method = "POST";
  request.query = query;
  request.body = body;
  request.body_bytes = body.size();
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  return decide(request, config);
}

constexpr std::string_view small_notification =
    R"({"CommunityName":"nordkyst-outdoor","EventType":"note_deletion","TicketId":1,"Events":[{"NoteId":1},{"NoteId":2}]})";

}  // namespace

TEST_CASE("with an endpoint key, a POST without it is refused, kept, and stores nothing") {
  Config config = test_config();
  config.endpoint_keys = {"abcdefghijklmnop", "qrstuvwxyz012345"};
  const Decision missing = post_with_query(small_notification, "", config);
  require_error(missing.response, 403, "missing_endpoint_key");
  CHECK_FALSE(missing.store);
  REQUIRE(missing.reject);
  CHECK(missing.refusal == "missing_endpoint_key");

  const Decision wrong = post_with_query(small_notification, "key=abcdefghijklmnoq", config);
  require_error(wrong.response, 403, "invalid_endpoint_key");
  CHECK_FALSE(wrong.store);
  CHECK(wrong.log_message.find("abcdefghijklmno") == std::string::npos);

  require_error(post_with_query(small_notification, "key=abcdefghijklmnop&key=x", config).response, 400, "duplicate_parameter");

  for (std::string_view query : {"key=abcdefghijklmnop", "a=1&key=qrstuvwxyz012345"}) {
    const Decision good = post_with_query(small_notification, query, config);
    CHECK(good.response.status == 200);
    CHECK(good.store);
  }
}

TEST_CASE("with a community allowlist, other communities are refused") {
  Config config = test_config();
  config.communities = {"fjellgarden-cafe"};
  const Decision refused = post(small_notification, config);
  require_error(refused.response, 403, "community_not_allowed");
  CHECK_FALSE(refused.store);
  CHECK(refused.reject);
  config.communities.push_back("nordkyst-outdoor");
  CHECK(post(small_notification, config).store);
}

TEST_CASE("more events than the limit is a clear 400, the limit itself is fine") {
  Config config = test_config();
  config.max_events = 1;
  require_error(post(small_notification, config).response, 400, "too_many_events");
  config.max_events = 2;
  CHECK(post(small_notification, config).response.status == 200);
}

TEST_CASE("nesting deeper than the limit is refused as invalid JSON, naming the limit") {
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  const json::object error = require_error(post(deep).response, 400, "invalid_json");
  CHECK(std::string(error.at("detail").as_string()).find("deeper than 64") != std::string::npos);
}
