// rejected_record_test.cpp -- the kept record of a refused POST, and which records a replay may queue.
#include <catch2/catch.hpp>

#include <string>

#include "core/decide.hpp"
#include "core/keys.hpp"
#include "core/rejected_record.hpp"

using namespace boardhook::core;

namespace {

constexpr std::int64_t at_ms = 1709210096789;  // 2024-02-29T12:34:56.789Z
constexpr std::string_view good_body =
    R"({"CommunityName":"harbour-kayaks","EventType":"ticket_status_change","TicketId":42,"Events":[{"A":1},{"B":2}]})";

RejectedRecord round_trip(std::string_view body, std::size_t body_bytes, std::string_view reason = "body_too_large") {
  const std::string text = make_rejected_record(at_ms, "req-1", 413, reason, "too large", body_bytes, body);
  const auto record = parse_rejected_record(text);
  REQUIRE(record);
  return *record;
}

RejectedRecord kept(std::string_view reason, std::string_view body = good_body) {
  return round_trip(body, body.size(), reason);
}

}  // namespace

TEST_CASE("a rejected record reads back field by field") {
  const RejectedRecord record = round_trip(good_body, good_body.size());
  CHECK(record.at == "2024-02-29T12:34:56.789Z");
  CHECK(record.request_id == "req-1");
  CHECK(record.status == 413);
  CHECK(record.reason == "body_too_large");
  CHECK(record.detail == "too large");
  CHECK(record.body_bytes == good_body.size());
  CHECK_FALSE(record.body_truncated);
  CHECK(record.body == good_body);
}

TEST_CASE("a body that is not UTF-8 is kept in base64 and reads back as its bytes") {
  const std::string body = "{\"x\":\"caf\xE9\xFF\"}";
  const std::string text = make_rejected_record(at_ms, "r", 400, "invalid_encoding", "d", body.size(), body);
  CHECK(text.find("\"body_encoding\":\"base64\"") != std::string::npos);
  CHECK(parse_rejected_record(text)->body == body);
}

TEST_CASE("only the first 64 KiB of a body are kept, and the record says it is cut") {
  const std::string body(max_kept_body_bytes + 10, 'a');
  const RejectedRecord record = round_trip(body, body.size() + 500);
  CHECK(record.body.size() == max_kept_body_bytes);
  CHECK(record.body_truncated);
  CHECK(record.body_bytes == body.size() + 500);
}

TEST_CASE("text that is not a rejected record is not read as one") {
  for (const char* text : {"", "[]", "{}", R"({"at":"x","request_id":"r","status":"400","reason":"a","detail":"b",
      "body_bytes":1,"body_encoding":"utf-8","body_truncated":false,"body":"x"})",
                           R"({"at":"x","request_id":"r","status":400,"reason":"a","detail":"b",
      "body_bytes":1,"body_encoding":"base64","body_truncated":false,"body":"*"})"}) {
    CHECK_FALSE(parse_rejected_record(text));
  }
}

TEST_CASE("a replay judges the body as the handler judges a POST that carried a valid endpoint key") {
  Config config;
  config.endpoint_keys = {"an-endpoint-key-of-some-length"};  // the tool may share the handler's settings
  const ReplayDecision replay = decide_replay(kept("too_many_events"), config, at_ms);
  INFO(replay.refusal);
  REQUIRE(replay.store);
  CHECK(replay.store->envelopes.size() == 2);
  CHECK(replay.store->queue_key == queue_key(config.queue_prefix, "ticket_status_change"));
  CHECK(replay.store->envelopes[0].find("\"delivery\":\"req-1\"") != std::string::npos);
}

TEST_CASE("a record refused for an authentication reason is never replayable") {
  Config config;
  for (const char* reason : {"missing_endpoint_key", "invalid_endpoint_key", "community_not_allowed", "duplicate_parameter"}) {
    INFO(reason);
    CHECK(is_authentication_refusal(reason));
    const ReplayDecision replay = decide_replay(kept(reason), config, at_ms);
    CHECK_FALSE(replay.store);
    CHECK_THAT(replay.refusal, Catch::Contains("never replayed") && Catch::Contains(reason));
  }
  CHECK_FALSE(is_authentication_refusal("invalid_json"));
}

TEST_CASE("a replay still applies the community allowlist and every envelope rule") {
  Config config;
  config.communities = {"someone-else"};
  CHECK_THAT(decide_replay(kept("body_too_large"), config, at_ms).refusal, Catch::Contains("community_not_allowed"));
  CHECK_THAT(decide_replay(kept("invalid_envelope", R"({"CommunityName":"c","Events":[]})"), Config{}, at_ms).refusal,
             Catch::Contains("still refused") && Catch::Contains("invalid_envelope"));
  CHECK(decide_replay(kept("body_too_large", R"({"CommunityName":"c","EventType":"t","Events":[]})"), Config{}, at_ms).refusal ==
        "it holds no events");
}

TEST_CASE("a record kept only in part is not replayed") {
  RejectedRecord record = kept("body_too_large");
  record.body_truncated = true;
  CHECK_THAT(decide_replay(record, Config{}, at_ms).refusal, Catch::Contains("only in part"));
}
