// event_type_test.cpp -- the EventType rule and its key encoding.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "core/event_type.hpp"
#include "core/keys.hpp"

using namespace boardhook::core;

TEST_CASE("an event type is 1-200 bytes of valid UTF-8, whatever characters it holds") {
  CHECK(is_event_type("ticket_status_change"));
  CHECK(is_event_type("Ticket cr\xC3\xA9\xC3\xA9 / new: \"x\" = 50%"));
  CHECK(is_event_type(std::string(200, 'x')));
  CHECK_FALSE(is_event_type(""));
  CHECK_FALSE(is_event_type(std::string(201, 'x')));
  CHECK_FALSE(is_event_type("caf\xE9"));
}

TEST_CASE("the key part of a type of A-Z a-z 0-9 _ - . is the type itself, so existing keys keep their names") {
  for (const char* type : {"ticket_status_change", "note_deletion", "x_unlisted_event_for_testing", "A.b-C_9"}) {
    CHECK(event_type_key_part(type) == type);
  }
  CHECK(queue_key("boardhook", "ticket_status_change") == "boardhook:queue:ticket_status_change");
  CHECK(counter_field(Counter::queued, "note_deletion") == "queued:note_deletion");
}

TEST_CASE("every other byte of a type is written %XX in its key part") {
  CHECK(event_type_key_part("a b") == "a%20b");
  CHECK(event_type_key_part("a:b*") == "a%3Ab%2A");
  CHECK(event_type_key_part("50%") == "50%25");
  CHECK(event_type_key_part("cr\xC3\xA9\xC3\xA9") == "cr%C3%A9%C3%A9");
  CHECK(event_type_key_part("a\nb") == "a%0Ab");
  CHECK(queue_key("boardhook", "Ticket cr\xC3\xA9\xC3\xA9") == "boardhook:queue:Ticket%20cr%C3%A9%C3%A9");
  CHECK(dead_key("p", "a:b") == "p:dead:a%3Ab");
}

TEST_CASE("no two types share a key part, even one that looks like another's encoding") {
  const char* types[] = {"a b", "a%20b", "a%2520b", "a_b", "a:b", "a%3Ab", "a.b", "a-b", "ab", "a\xC3\xA9", "a%C3%A9"};
  std::set<std::string> parts;
  for (const char* type : types) parts.insert(event_type_key_part(type));
  CHECK(parts.size() == std::size(types));
}

TEST_CASE("an event type given as an argument is the type, or its key part") {
  std::string error;
  CHECK(parse_event_type_argument("ticket_status_change", error) == "ticket_status_change");
  CHECK(parse_event_type_argument("a%20b", error) == "a b");
  CHECK(parse_event_type_argument("50%25", error) == "50%");
  CHECK(parse_event_type_argument("cr%C3%A9%c3%a9", error) == "cr\xC3\xA9\xC3\xA9");
  CHECK(parse_event_type_argument("cr\xC3\xA9", error) == "cr\xC3\xA9");
  for (const std::string& type : {std::string("a b"), std::string("x=y"), std::string("Ticket cr\xC3\xA9\xC3\xA9"), std::string("50%")}) {
    CHECK(parse_event_type_argument(event_type_key_part(type), error) == type);
  }
}

TEST_CASE("a broken escape or a result that is no event type is refused with a reason") {
  for (const char* text : {"50%", "a%2", "a%zz", "", "%E9", "%"}) {
    std::string error;
    INFO("argument " << text);
    CHECK_FALSE(parse_event_type_argument(text, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("a type is printed in log lines as it is when plain, else quoted with controls escaped") {
  CHECK(printable_event_type("ticket_status_change") == "ticket_status_change");
  CHECK(printable_event_type("a b") == "\"a b\"");
  CHECK(printable_event_type("a\nINFO forged") == "\"a\\nINFO forged\"");
  CHECK(printable_event_type("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
}
