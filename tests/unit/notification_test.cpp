// notification_test.cpp -- parsing and validating a POST body against the envelope rules of SPEC.md 3.1.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "core/event_type.hpp"
#include "core/notification.hpp"

using namespace boardhook::core;
using namespace std::string_literals;

namespace {

// Parses `body`, requiring success.
Notification parsed(std::string_view body) {
  const ParsedNotification result = parse_notification(body);
  INFO("problem: " << result.problem.code << ": " << result.problem.detail);
  REQUIRE(result.notification);
  return *result.notification;
}

// Parses `body`, requiring failure with `code`; returns the detail.
std::string refused(std::string_view body, const std::string& code) {
  const ParsedNotification result = parse_notification(body);
  INFO("body: " << body);
  REQUIRE_FALSE(result.notification);
  CHECK(result.problem.code == code);
  CHECK_FALSE(result.problem.detail.empty());
  return result.problem.detail;
}

bool points_into(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

TEST_CASE("a minimal envelope parses into community type and items") {
  const std::string body = R"({"CommunityName":"c","EventType":"note_deletion","TicketId":5,"Events":[{"NoteId":1},{"NoteId":2}]})";
  const Notification n = parsed(body);
  CHECK(n.community == "c");
  CHECK(n.event_type == "note_deletion");
  REQUIRE(n.events.size() == 2);
  CHECK(n.events[0].raw == R"({"NoteId":1})");
  CHECK(n.events[1].raw == R"({"NoteId":2})");
  CHECK(n.events[0].ticket_id == "5");
  CHECK(n.events[1].ticket_id == "5");
}

TEST_CASE("item views point into the body and keep its exact bytes") {
  const std::string body = "{\"CommunityName\":\"c\",\"EventType\":\"t\",\"Events\":[ {\"a\" : \"\\u00e6\\n\" ,\n \"b\":[ ]} ,{}]}";
  const Notification n = parsed(body);
  REQUIRE(n.events.size() == 2);
  CHECK(n.events[0].raw == "{\"a\" : \"\\u00e6\\n\" ,\n \"b\":[ ]}");
  CHECK(n.events[1].raw == "{}");
  CHECK(points_into(n.events[0].raw, body));
  CHECK(points_into(n.events[1].raw, body));
}

TEST_CASE("items whose strings look like separators are split correctly") {
  const std::string body = R"({"CommunityName":"c","EventType":"t","Events":[{"m":"},{"},{"n":"]}\"]"}]})";
  const Notification n = parsed(body);
  REQUIRE(n.events.size() == 2);
  CHECK(n.events[0].raw == R"({"m":"},{"})");
  CHECK(n.events[1].raw == R"({"n":"]}\"]"})");
}

TEST_CASE("the community name is decoded from its JSON escapes") {
  const Notification n = parsed(R"({"CommunityName":"bl\u00e5b\u00e6r \"x\"","EventType":"t","Events":[]})");
  CHECK(n.community == "bl\xc3\xa5" "b\xc3\xa6r \"x\"");
}

TEST_CASE("long strings and keys with escapes, which the parser hands over in parts, are read whole") {
  // Longer than Boost.JSON's 4096-byte buffer for unescaping.
  std::string community;
  for (int i = 0; i < 3000; ++i) community += "a\\u00e6";
  std::string expected;
  for (int i = 0; i < 3000; ++i) expected += "a\xc3\xa6";
  const std::string long_key = std::string(5000, 'k') + "\\n";
  const Notification n = parsed(R"({")" + long_key + R"(":1,"CommunityName":")" + community +
                                R"(","EventType":"t","\u0045vents":[{"T\u0069cket":{"\u0049d":7}}]})");
  CHECK(n.community == expected);
  REQUIRE(n.events.size() == 1);
  CHECK(n.events[0].ticket_id == "7");
}

TEST_CASE("more items than max_events are refused with their count") {
  const std::string body = R"({"CommunityName":"c","EventType":"t","Events":[{},{},{}]})";
  CHECK(parse_notification(body, 3).notification);
  const ParsedNotification refused_body = parse_notification(body, 2);
  REQUIRE_FALSE(refused_body.notification);
  CHECK(refused_body.problem.code == "too_many_events");
  CHECK(refused_body.problem.detail == "Events holds 3 items; at most 2 are accepted");
  // The count is checked before the kind of each item.
  CHECK(parse_notification(R"({"CommunityName":"c","EventType":"t","Events":[1,2,3]})", 2).problem.code == "too_many_events");
  CHECK(parse_notification(R"({"CommunityName":"c","EventType":"t","Events":[]})", 0).notification);
  CHECK(parse_notification(R"({"CommunityName":"c","EventType":"t","Events":[{}]})", 0).problem.code == "too_many_events");
}

TEST_CASE("keys may come in any order") {
  const Notification n = parsed(R"({"Events":[{"x":1}],"TicketId":7,"EventType":"t","CommunityName":"c"})");
  CHECK(n.event_type == "t");
  REQUIRE(n.events.size() == 1);
  CHECK(n.events[0].ticket_id == "7");
}

TEST_CASE("an empty Events array is a valid notification with no items") {
  const Notification n = parsed(R"({"CommunityName":"c","EventType":"t","TicketId":1,"Events":[]})");
  CHECK(n.events.empty());
}

TEST_CASE("unknown extra top-level keys are allowed") {
  const Notification n = parsed(R"({"CommunityName":"c","EventType":"t","Events":[{}],"Future":{"x":[1]}})");
  CHECK(n.events.size() == 1);
}

// ---------------------------------------------------------------- ticket ids

TEST_CASE("the ticket id comes from TicketId even when an item has its own Ticket.Id") {
  const Notification n = parsed(R"({"CommunityName":"c","EventType":"t","TicketId":100,"Events":[{"Ticket":{"Id":200}}]})");
  CHECK(n.events[0].ticket_id == "100");
}

TEST_CASE("without TicketId each item's Ticket.Id is used") {
  const Notification n =
      parsed(R"({"CommunityName":"c","EventType":"t","Events":[{"Ticket":{"Id":200}},{"Ticket":{"Id":300}},{"NoteId":1}]})");
  REQUIRE(n.events.size() == 3);
  CHECK(n.events[0].ticket_id == "200");
  CHECK(n.events[1].ticket_id == "300");
  CHECK_FALSE(n.events[2].ticket_id);
}

TEST_CASE("a Ticket.Id that is not an integer gives no ticket id") {
  for (const char* id : {R"("200")", "2.5", "null", "true", "{}", "[1]"}) {
    INFO("Ticket.Id = " << id);
    const std::string body = std::string(R"({"CommunityName":"c","EventType":"t","Events":[{"Ticket":{"Id":)") + id + "}}]}";
    CHECK_FALSE(parsed(body).events[0].ticket_id);
  }
  CHECK_FALSE(parsed(R"({"CommunityName":"c","EventType":"t","Events":[{"Ticket":7}]})").events[0].ticket_id);
  CHECK_FALSE(parsed(R"({"CommunityName":"c","EventType":"t","Events":[{"Ticket":{"id":7}}]})").events[0].ticket_id);
}

TEST_CASE("of repeated Ticket and Id keys in an item the last counts, as in a parsed object") {
  const auto ticket_id_of = [](const std::string& item) {
    return parsed(R"({"CommunityName":"c","EventType":"t","Events":[)" + item + "]}").events[0].ticket_id;
  };
  CHECK(ticket_id_of(R"({"Ticket":{"Id":1},"Ticket":{"Id":2}})") == "2");
  CHECK(ticket_id_of(R"({"Ticket":{"Id":1},"Ticket":{"Name":"x"}})") == std::nullopt);
  CHECK(ticket_id_of(R"({"Ticket":{"Id":1},"Ticket":3})") == std::nullopt);
  CHECK(ticket_id_of(R"({"Ticket":3,"Ticket":{"Id":4}})") == "4");
  CHECK(ticket_id_of(R"({"Ticket":{"Id":1,"Id":"x"}})") == std::nullopt);
  CHECK(ticket_id_of(R"({"Ticket":{"Id":"x","Id":5}})") == "5");
}

TEST_CASE("Ticket and Id are found with escaped names and only at their own level") {
  const auto ticket_id_of = [](const std::string& item) {
    return parsed(R"({"CommunityName":"c","EventType":"t","Events":[)" + item + "]}").events[0].ticket_id;
  };
  CHECK(ticket_id_of(R"({"\u0054icket":{"I\u0064":12}})") == "12");
  CHECK(ticket_id_of(R"({"Ticket":{"Inner":{"Id":1}}})") == std::nullopt);
  CHECK(ticket_id_of(R"({"Id":1,"Other":{"Ticket":{"Id":2}}})") == std::nullopt);
  CHECK(ticket_id_of(R"({"Ticket":[{"Id":1}]})") == std::nullopt);
  CHECK(ticket_id_of(R"({"Ticket":{"Id":[1],"More":{"Id":2}}})") == std::nullopt);
  // Each item has its own: one without a Ticket between two with one gets none.
  const Notification n = parsed(
      R"({"CommunityName":"c","EventType":"t","Events":[{"Ticket":{"Id":1}},{"x":{"Ticket":{"Id":9}}},{"Ticket":{"Id":3}}]})");
  REQUIRE(n.events.size() == 3);
  CHECK(n.events[0].ticket_id == "1");
  CHECK_FALSE(n.events[1].ticket_id);
  CHECK(n.events[2].ticket_id == "3");
}

TEST_CASE("integer ticket ids keep their full range") {
  CHECK(parsed(R"({"CommunityName":"c","EventType":"t","TicketId":0,"Events":[{}]})").events[0].ticket_id == "0");
  CHECK(parsed(R"({"CommunityName":"c","EventType":"t","TicketId":-3,"Events":[{}]})").events[0].ticket_id == "-3");
  CHECK(parsed(R"({"CommunityName":"c","EventType":"t","TicketId":9223372036854775807,"Events":[{}]})").events[0].ticket_id ==
        "9223372036854775807");
  CHECK(parsed(R"({"CommunityName":"c","EventType":"t","TicketId":18446744073709551615,"Events":[{}]})").events[0].ticket_id ==
        "18446744073709551615");
}

// ---------------------------------------------------------------- refusals

TEST_CASE("an empty body is refused as empty_body") {
  refused("", "empty_body");
}

TEST_CASE("a body that is not UTF-8 is refused as invalid_encoding before JSON parsing") {
  refused("{\"CommunityName\":\"caf\xe9\",\"EventType\":\"t\",\"Events\":[]}", "invalid_encoding");
  refused("\xff\xfe{}", "invalid_encoding");
  refused("{\"CommunityName\":\"\xed\xa0\x80\",\"EventType\":\"t\",\"Events\":[]}", "invalid_encoding");
}

TEST_CASE("text that is not one JSON document is refused as invalid_json") {
  for (const char* body : {"not json", "{", "{\"CommunityName\":\"c\",", "{}{}", "{} x", "{\"a\":1,}", "[1,]", "{'a':1}",
                           "{\"a\":01}", "{\"a\":NaN}", "// c\n{}", "\xef\xbb\xbf{}", " ", "\n"}) {
    refused(body, "invalid_json");
  }
}

TEST_CASE("a JSON top level that is not an object is refused as invalid_envelope") {
  for (const char* body : {"[]", "[{\"CommunityName\":\"c\"}]", "\"text\"", "42", "null", "true"}) {
    refused(body, "invalid_envelope");
  }
}

TEST_CASE("a missing or empty CommunityName is refused naming CommunityName") {
  for (const char* body : {R"({"EventType":"t","Events":[]})", R"({"CommunityName":"","EventType":"t","Events":[]})",
                           R"({"CommunityName":7,"EventType":"t","Events":[]})",
                           R"({"CommunityName":null,"EventType":"t","Events":[]})",
                           R"({"CommunityName":["c"],"EventType":"t","Events":[]})",
                           R"({"communityName":"c","EventType":"t","Events":[]})"}) {
    CHECK_THAT(refused(body, "invalid_envelope"), Catch::Contains("CommunityName"));
  }
}

TEST_CASE("a missing or empty EventType is refused naming EventType") {
  for (const char* body : {R"({"CommunityName":"c","Events":[]})", R"({"CommunityName":"c","EventType":"","Events":[]})",
                           R"({"CommunityName":"c","EventType":1,"Events":[]})",
                           R"({"CommunityName":"c","EventType":{},"Events":[]})",
                           R"({"CommunityName":"c","eventtype":"t","Events":[]})"}) {
    CHECK_THAT(refused(body, "invalid_envelope"), Catch::Contains("EventType"));
  }
}

TEST_CASE("any EventType of UTF-8 text is accepted, whatever it holds, since the protocol allows it") {
  const std::pair<const char*, std::string> cases[] = {
      {"a b", "a b"}, {"a:b", "a:b"}, {"queue/x", "queue/x"}, {"a*", "a*"}, {"\\u00e6", "\xC3\xA6"},
      {"a\\nb", "a\nb"}, {"t{1}", "t{1}"}, {"Ticket cr\xC3\xA9\xC3\xA9", "Ticket cr\xC3\xA9\xC3\xA9"}, {"%41", "%41"}};
  for (const auto& [written, decoded] : cases) {
    INFO("EventType " << written);
    const std::string body = std::string(R"({"CommunityName":"c","EventType":")") + written + R"(","Events":[]})";
    CHECK(parsed(body).event_type == decoded);
  }
}

TEST_CASE("an EventType of exactly 200 bytes is accepted and 201 refused naming EventType") {
  const std::string type200 = "Aa0_-. \xC3\xA6" + std::string(191, 'x');
  REQUIRE(type200.size() == max_event_type_bytes);
  CHECK(parsed(R"({"CommunityName":"c","EventType":")" + type200 + R"(","Events":[]})").event_type == type200);
  CHECK_THAT(refused(R"({"CommunityName":"c","EventType":")" + type200 + R"(x","Events":[]})", "invalid_envelope"),
             Catch::Contains("EventType"));
}

TEST_CASE("a TicketId that is not an integer is refused naming TicketId") {
  for (const char* id : {R"("9051377")", "1.5", "1.0", "1e3", "null", "true", "[1]", "{}", "18446744073709551616"}) {
    INFO("TicketId = " << id);
    const std::string body = std::string(R"({"CommunityName":"c","EventType":"t","TicketId":)") + id + R"(,"Events":[]})";
    CHECK_THAT(refused(body, "invalid_envelope"), Catch::Contains("TicketId"));
  }
}

TEST_CASE("Events missing or not an array is refused naming Events") {
  for (const char* body : {R"({"CommunityName":"c","EventType":"t"})", R"({"CommunityName":"c","EventType":"t","Events":{}})",
                           R"({"CommunityName":"c","EventType":"t","Events":null})",
                           R"({"CommunityName":"c","EventType":"t","Events":"[]"})"}) {
    CHECK_THAT(refused(body, "invalid_envelope"), Catch::Contains("Events"));
  }
}

TEST_CASE("an Events item that is not an object is refused naming its index") {
  CHECK_THAT(refused(R"({"CommunityName":"c","EventType":"t","Events":[{},1]})", "invalid_envelope"),
             Catch::Contains("Events[1]"));
  CHECK_THAT(refused(R"({"CommunityName":"c","EventType":"t","Events":[[]]})", "invalid_envelope"),
             Catch::Contains("Events[0]"));
  CHECK_THAT(refused(R"({"CommunityName":"c","EventType":"t","Events":[null]})", "invalid_envelope"),
             Catch::Contains("Events[0]"));
}

TEST_CASE("duplicate top-level keys are refused") {
  for (const char* body :
       {R"({"CommunityName":"c","EventType":"t","EventType":"u","Events":[]})",
        R"({"CommunityName":"c","EventType":"t","Events":[{"a":1}],"Events":[]})",
        R"({"CommunityName":"c","CommunityName":"c","EventType":"t","Events":[]})",
        R"({"CommunityName":"c","EventType":"t","TicketId":1,"Events":[],"TicketId":2})",
        R"({"CommunityName":"c","EventType":"t","Events":[],"\u0045vents":[{}]})",
        R"({"CommunityName":"c","EventType":"t","Events":[],"x":1,"x":2})"}) {
    refused(body, "invalid_envelope");
  }
}

TEST_CASE("a duplicated envelope key is named in the detail") {
  CHECK_THAT(refused(R"({"CommunityName":"c","EventType":"t","EventType":"u","Events":[]})", "invalid_envelope"),
             Catch::Contains("EventType"));
  CHECK_THAT(refused(R"({"CommunityName":"c","EventType":"t","Events":[],"\u0045vents":[]})", "invalid_envelope"),
             Catch::Contains("Events"));
}

TEST_CASE("duplicate keys inside items are not the envelope's business") {
  const Notification n = parsed(R"({"CommunityName":"c","EventType":"t","Events":[{"a":1,"a":2}]})");
  CHECK(n.events[0].raw == R"({"a":1,"a":2})");
}

TEST_CASE("a duplicate key is refused without quoting the key from the body") {
  // Problem::detail "never quotes the body": it goes to the client, the log and the reject record.
  const std::string marker = "PERSONAL-DATA-MARKER-51f0";
  const std::string body = R"({"CommunityName":"c","EventType":"t","Events":[],")" + marker + R"(":1,")" + marker + R"(":2})";
  const std::string detail = refused(body, "invalid_envelope");
  CHECK_THAT(detail, !Catch::Contains("MARKER"));
}

TEST_CASE("nesting deeper than the limit is refused as invalid_json") {
  const std::size_t depth = max_json_depth + 10;
  const std::string body = R"({"CommunityName":"c","EventType":"t","Events":[{"x":)" + std::string(depth, '[') +
                           std::string(depth, ']') + "}]}";
  refused(body, "invalid_json");
}

TEST_CASE("nesting well inside the limit is accepted") {
  const std::size_t depth = max_json_depth / 2;
  const std::string inner = std::string(depth, '[') + std::string(depth, ']');
  const std::string body = R"({"CommunityName":"c","EventType":"t","Events":[{"x":)" + inner + "}]}";
  CHECK(parsed(body).events[0].raw == R"({"x":)" + inner + "}");
}

TEST_CASE("the two documented event types are known and others are not") {
  CHECK(is_documented_event_type("ticket_status_change"));
  CHECK(is_documented_event_type("note_deletion"));
  CHECK_FALSE(is_documented_event_type("x_unlisted_event_for_testing"));
  CHECK_FALSE(is_documented_event_type("Ticket_Status_Change"));
  CHECK_FALSE(is_documented_event_type(""));
}
