// json_spans_test.cpp -- locating the raw bytes of top-level members and array items in JSON text.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_spans.hpp"

using namespace boardhook::core;
using namespace std::string_literals;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(BOARDHOOK_FIXTURES) + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::vector<std::string> keys_of(const std::vector<JsonMember>& members) {
  std::vector<std::string> keys;
  for (const auto& member : members) keys.push_back(member.key);
  return keys;
}

// True when `part` is a view into `whole` (not a copy of equal text).
bool points_into(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

// ---------------------------------------------------------------- top_level_members

TEST_CASE("top-level members are returned in document order with their raw values") {
  const std::string json = R"({"b":1,"a":"two","c":null,"d":true,"e":-1.5e3,"f":false})";
  const auto members = top_level_members(json);
  REQUIRE(members);
  REQUIRE(members->size() == 6);
  CHECK(keys_of(*members) == std::vector<std::string>{"b", "a", "c", "d", "e", "f"});
  CHECK((*members)[0].value == "1");
  CHECK((*members)[1].value == "\"two\"");
  CHECK((*members)[2].value == "null");
  CHECK((*members)[3].value == "true");
  CHECK((*members)[4].value == "-1.5e3");
  CHECK((*members)[5].value == "false");
  for (const auto& member : *members) CHECK(points_into(member.value, json));
}

TEST_CASE("nested objects and arrays are one member each with their exact bytes") {
  const std::string json = R"({"o":{"x":{"y":[1,{"z":[]}]}},"a":[[1,2],[3,[4,{}]]],"n":0})";
  const auto members = top_level_members(json);
  REQUIRE(members);
  REQUIRE(members->size() == 3);
  CHECK((*members)[0].value == R"({"x":{"y":[1,{"z":[]}]}})");
  CHECK((*members)[1].value == R"([[1,2],[3,[4,{}]]])");
  CHECK((*members)[2].value == "0");
}

TEST_CASE("strings holding brackets braces and escaped quotes do not end a value early") {
  const std::string json = R"({"s":"}]{[,:","t":{"u":"a\"}]b","v":"\\"},"w":["\"]","\\\"}"],"k":1})";
  const auto members = top_level_members(json);
  REQUIRE(members);
  REQUIRE(members->size() == 4);
  CHECK((*members)[0].value == R"("}]{[,:")");
  CHECK((*members)[1].value == R"({"u":"a\"}]b","v":"\\"})");
  CHECK((*members)[2].value == R"(["\"]","\\\"}"])");
  CHECK((*members)[3].key == "k");
}

TEST_CASE("whitespace around keys and values is not part of the value") {
  const std::string json = " \r\n\t{ \n \"a\" \t : \r\n [ 1 , 2 ] \n , \"b\":\"x y\"  ,\"c\"  :  {  }  } \n";
  const auto members = top_level_members(json);
  REQUIRE(members);
  REQUIRE(members->size() == 3);
  CHECK((*members)[0].value == "[ 1 , 2 ]");
  CHECK((*members)[1].value == "\"x y\"");
  CHECK((*members)[2].value == "{  }");
}

TEST_CASE("escaped keys are decoded") {
  const std::string json =
      R"({"\u0045vents":1,"a\"b":2,"back\\slash":3,"\n\t\/":4,"\u00e6\u00F8":5,"\ud83d\ude00":6,"Ev\u0065nts2":7})";
  const auto members = top_level_members(json);
  REQUIRE(members);
  CHECK(keys_of(*members) == std::vector<std::string>{"Events", "a\"b", "back\\slash", "\n\t/", "\xc3\xa6\xc3\xb8",
                                                      "\xf0\x9f\x98\x80", "Events2"});
}

TEST_CASE("duplicate keys are all kept in order") {
  const auto members = top_level_members(R"({"a":1,"b":2,"a":3})");
  REQUIRE(members);
  CHECK(keys_of(*members) == std::vector<std::string>{"a", "b", "a"});
  CHECK((*members)[2].value == "3");
}

TEST_CASE("an empty object has no members") {
  for (const char* json : {"{}", " { } ", "{\n}"}) {
    INFO(json);
    const auto members = top_level_members(json);
    REQUIRE(members);
    CHECK(members->empty());
  }
}

TEST_CASE("a top level that is not an object has no members") {
  for (const char* json : {"[]", "[{\"a\":1}]", "\"{}\"", "1", "null", "true"}) {
    INFO(json);
    CHECK_FALSE(top_level_members(json));
  }
}

TEST_CASE("malformed objects give nullopt") {
  const char* inputs[] = {
      "",          "   ",          "{",              "{\"a\"",           "{\"a\":",       "{\"a\":1",
      "{\"a\":1,", "{\"a\" 1}",    "{a:1}",          "{\"a\":1 \"b\":2}", "{\"a\":1,}",    "{,}",
      "{\"a\":}",  "{\"a\":\"x}",  "{\"a\":\"x\\\"}", "{\"a\":\"x\\",     "{\"a\":[1,2}",  "{\"a\":{\"b\":1}",
      "{\"a\":[",  "{\"a\":1]",    "{\"\\",          "{'a':1}",          "{\"a\"}",     "{\"a\":1,\"b\"}",
  };
  for (const char* json : inputs) {
    INFO("input: " << json);
    CHECK_FALSE(top_level_members(json));
  }
}

TEST_CASE("every proper prefix of a fixture is malformed") {
  const std::string json = read_fixture("ticket_status_change.json");
  const std::size_t last_brace = json.rfind('}');
  REQUIRE(last_brace != std::string::npos);
  REQUIRE(top_level_members(json));
  std::vector<std::size_t> accepted_lengths;
  for (std::size_t length = 0; length <= last_brace; ++length) {
    if (top_level_members(std::string_view(json).substr(0, length))) accepted_lengths.push_back(length);
  }
  CHECK(accepted_lengths.empty());
}

TEST_CASE("a fixture's members are its four envelope keys") {
  const std::string json = read_fixture("ticket_status_change.json");
  const auto members = top_level_members(json);
  REQUIRE(members);
  CHECK(keys_of(*members) == std::vector<std::string>{"CommunityName", "EventType", "TicketId", "Events"});
  CHECK((*members)[0].value == "\"tidewater-ceramics\"");
  CHECK((*members)[2].value == "7318842");
  CHECK((*members)[3].value.front() == '[');
  CHECK((*members)[3].value.back() == ']');
  // The Events value runs to the last ']' of the text.
  CHECK((*members)[3].value.data() + (*members)[3].value.size() == json.data() + json.rfind(']') + 1);
}

// ---------------------------------------------------------------- array_items

TEST_CASE("array items are returned in order with their raw bytes") {
  const std::string json = R"([{"a":1},[2,3],"s",4,null,true,{"b":{"c":[]}}])";
  const auto items = array_items(json);
  REQUIRE(items);
  const std::vector<std::string_view> expected = {R"({"a":1})", "[2,3]", "\"s\"", "4", "null", "true", R"({"b":{"c":[]}})"};
  CHECK(*items == expected);
  for (const auto item : *items) CHECK(points_into(item, json));
}

TEST_CASE("array items keep inner whitespace and drop the whitespace around them") {
  const std::string json = "[ \n {\n  \"a\" : 1\n } \t,\r\n{ } ]";
  const auto items = array_items(json);
  REQUIRE(items);
  REQUIRE(items->size() == 2);
  CHECK((*items)[0] == "{\n  \"a\" : 1\n }");
  CHECK((*items)[1] == "{ }");
}

TEST_CASE("array items with strings that look like separators stay whole") {
  const std::string json = R"([{"m":"},{"},{"n":"]"},{"o":"\"},{\""}])";
  const auto items = array_items(json);
  REQUIRE(items);
  REQUIRE(items->size() == 3);
  CHECK((*items)[0] == R"({"m":"},{"})");
  CHECK((*items)[1] == R"({"n":"]"})");
  CHECK((*items)[2] == R"({"o":"\"},{\""})");
}

TEST_CASE("an empty array has no items") {
  for (const char* json : {"[]", "[ ]", " [\n] "}) {
    INFO(json);
    const auto items = array_items(json);
    REQUIRE(items);
    CHECK(items->empty());
  }
}

TEST_CASE("malformed arrays give nullopt") {
  const char* inputs[] = {"",     "  ",   "{}",    "1",     "[",      "[1",      "[1,",    "[1 2]",
                          "[,]",  "[1,]", "[,1]",  "[\"a]", "[{]",    "[{\"a\":1]", "[[1]", "\"[]\"",
                          "[\"\\"};
  for (const char* json : inputs) {
    INFO("input: " << json);
    CHECK_FALSE(array_items(json));
  }
}

TEST_CASE("every proper prefix of a fixture's Events array is malformed") {
  const std::string json = read_fixture("variants/ticket_status_change.two_events.json");
  const auto members = top_level_members(json);
  REQUIRE(members);
  REQUIRE(members->back().key == "Events");
  const std::string_view events = members->back().value;
  const auto items = array_items(events);
  REQUIRE(items);
  CHECK(items->size() == 2);
  std::vector<std::size_t> accepted_lengths;
  for (std::size_t length = 0; length < events.size(); ++length) {
    if (array_items(events.substr(0, length))) accepted_lengths.push_back(length);
  }
  CHECK(accepted_lengths.empty());
}

// The scanner checks structure, not grammar: on text that is not JSON it may return nullopt or
// spans of no meaning, but whatever it returns lies inside the input (and ASan sees no stray read).
TEST_CASE("text that is not JSON gives nullopt or spans inside the input") {
  std::vector<std::string> inputs = {R"({"a":[1}})", R"({"a":{"b":1]})", R"({"a":1:2})", R"({"a"::1})", R"({"a":1}x)",
                                     R"([[1}])",     R"([1:2])",         R"([1]x)",       R"({"a":"\u12)", R"(["\ud83d\"])"};
  const std::string pieces[] = {"{", "}", "[", "]", "\"", "\\", ":", ",", "a", "1", " ", "\\u", "\\ud83d", "\xff"};
  std::string text;
  unsigned state = 12345;
  for (int round = 0; round < 2000; ++round) {
    state = state * 1103515245u + 12345u;
    text += pieces[(state >> 16) % std::size(pieces)];
    if (text.size() > 40) text.erase(0, 20);
    inputs.push_back(text);
    inputs.push_back("{\"" + text);
    inputs.push_back("{\"a\":" + text);
    inputs.push_back("[" + text);
  }
  std::size_t outside = 0;
  for (const std::string& input : inputs) {
    if (const auto members = top_level_members(input)) {
      for (const auto& member : *members) outside += points_into(member.value, input) ? 0 : 1;
    }
    if (const auto items = array_items(input)) {
      for (const auto item : *items) outside += points_into(item, input) ? 0 : 1;
    }
  }
  CHECK(outside == 0);
}

// ---------------------------------------------------------------- the scanner's edge cases
//
// The scanner reads sixteen bytes at a time; these tests move each tricky byte across every
// offset of a block and end the text right where a read past it would show. The text is copied
// into a buffer of exactly its size, so AddressSanitizer sees a read of even one byte too many.

namespace {

class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view text) : bytes_(new char[text.size()]), size_(text.size()) {
    std::copy(text.begin(), text.end(), bytes_.get());
  }
  std::string_view view() const { return {bytes_.get(), size_}; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_;
};

std::vector<std::string> items_of(std::string_view array_text) {
  const ExactBuffer buffer(array_text);
  const auto items = array_items(buffer.view());
  REQUIRE(items);
  std::vector<std::string> copies;
  for (const auto item : *items) {
    REQUIRE(points_into(item, buffer.view()));
    copies.emplace_back(item);
  }
  return copies;
}

}  // namespace

TEST_CASE("a quote after a run of backslashes ends the string only when the run is even") {
  for (std::size_t pad = 0; pad < 34; ++pad) {
    for (std::size_t run = 0; run < 10; ++run) {
      // An odd run escapes the quote, so "y" and a second quote are needed to close the string.
      const std::string string = "\"" + std::string(pad, 'x') + std::string(run, '\\') + "\"" + (run % 2 ? "y\"" : "");
      INFO("pad " << pad << ", run " << run);
      CHECK(items_of("[" + string + ",1]") == std::vector<std::string>{string, "1"});
      CHECK(items_of("[{\"k\":" + string + "},[" + string + "]]") ==
            std::vector<std::string>{"{\"k\":" + string + "}", "[" + string + "]"});
    }
  }
}

TEST_CASE("escaped quotes and brackets inside strings are skipped at every offset of a block") {
  for (std::size_t pad = 0; pad < 34; ++pad) {
    const std::string item = "{\"s\":\"" + std::string(pad, ' ') + "]}[{,\\\"}]\\\\\",\"t\":[\"" + std::string(pad, 'a') + "\\\"\"]}";
    INFO(item);
    CHECK(items_of("[" + item + "," + item + "]") == std::vector<std::string>{item, item});
  }
}

TEST_CASE("bytes above 0x7F are never taken for quotes brackets or backslashes") {
  // Each is a quote, bracket or backslash with the high bit set, or turns into one when 0x20 is set.
  const std::string lookalikes = "\xa2\xdb\xdd\xfb\xfd\xdc\x80\xff";
  for (std::size_t pad = 0; pad < 18; ++pad) {
    const std::string item = "{\"" + std::string(pad, 'k') + lookalikes + "\":[\"" + lookalikes + "\"]}";
    INFO("pad " << pad);
    CHECK(items_of("[" + item + "," + item + "]") == std::vector<std::string>{item, item});
  }
}

TEST_CASE("objects and arrays nested inside items stay within their item") {
  const std::string items[] = {R"({"a":[[{}],{"b":[1,{"c":"]"}]}],"d":{"e":{"f":[]}}})", "[[[]],[{}]]", R"({"x":{}})",
                               "[]", "{}", R"([{"y":[{"z":[[[["}"]]]]}]}])"};
  std::string array = "[";
  for (const std::string& item : items) array += (array.size() > 1 ? " ,\n " : "") + item;
  array += "]";
  CHECK(items_of(array) == std::vector<std::string>(std::begin(items), std::end(items)));
}

TEST_CASE("a string that runs to the end of the text is malformed") {
  for (std::size_t length = 0; length < 40; ++length) {
    const std::string body(length, 'a');
    for (const char* tail : {"", "\\", "\\\"", "\\\\\\"}) {
      INFO("length " << length << ", tail " << tail);
      const ExactBuffer array("[\"" + body + tail);
      CHECK_FALSE(array_items(array.view()));
      const ExactBuffer object("{\"a\":\"" + body + tail);
      CHECK_FALSE(top_level_members(object.view()));
      const ExactBuffer key("{\"" + body + tail);
      CHECK_FALSE(top_level_members(key.view()));
    }
  }
}

TEST_CASE("values that end at the last byte of the text are found") {
  for (std::size_t length = 0; length < 40; ++length) {
    const std::string string = "\"" + std::string(length, 'a') + "\"";
    const std::string array = "[" + std::string(length, ' ') + "1]";
    INFO("length " << length);
    CHECK(items_of("[" + string + "]") == std::vector<std::string>{string});
    CHECK(items_of("[" + array + "]") == std::vector<std::string>{array});
    const ExactBuffer object("{\"k\":" + array + "}");
    const auto members = top_level_members(object.view());
    REQUIRE(members);
    REQUIRE(members->size() == 1);
    CHECK(members->front().value == array);
  }
}

// ---------------------------------------------------------------- top_level_members_with_items

TEST_CASE("members and items found in one pass equal those found in two") {
  for (const char* name : {"ticket_status_change.json", "note_deletion.json", "variants/ticket_status_change.two_events.json",
                           "variants/ticket_status_change.unicode.json", "variants/ticket_status_change.empty_events.json"}) {
    INFO(name);
    const std::string json = read_fixture(name);
    const auto members = top_level_members(json);
    const auto found = top_level_members_with_items(json, "Events");
    REQUIRE(members);
    REQUIRE(found);
    REQUIRE(found->members.size() == members->size());
    for (std::size_t i = 0; i < members->size(); ++i) {
      CHECK(found->members[i].key == (*members)[i].key);
      CHECK(found->members[i].value.data() == (*members)[i].value.data());
      CHECK(found->members[i].value.size() == (*members)[i].value.size());
    }
    const auto events = std::find_if(members->begin(), members->end(), [](const JsonMember& m) { return m.key == "Events"; });
    REQUIRE(events != members->end());
    REQUIRE(found->items);
    CHECK(*found->items == *array_items(events->value));
  }
}

TEST_CASE("the items are those of the first member with that key whose value is an array") {
  const auto items_for = [](std::string_view json) {
    const ExactBuffer buffer(json);
    const auto found = top_level_members_with_items(buffer.view(), "Events");
    REQUIRE(found);
    std::optional<std::vector<std::string>> copies;
    if (found->items) copies.emplace(found->items->begin(), found->items->end());
    return copies;
  };
  using Items = std::optional<std::vector<std::string>>;
  CHECK(items_for(R"({"a":[0],"Events":[1,{"b":[2]}],"c":[3]})") == Items{{"1", R"({"b":[2]})"}});
  CHECK(items_for(R"({"\u0045vents":[1, 2]})") == Items{{"1", "2"}});  // keys compare decoded
  CHECK(items_for(R"({"Events":[]})") == Items{std::vector<std::string>{}});
  CHECK(items_for(R"({"Events":1,"Events":[2]})") == Items{{"2"}});
  CHECK(items_for(R"({"Events":[1],"Events":[2,3]})") == Items{{"1"}});
  CHECK(items_for(R"({"Events":{"x":[1]}})") == std::nullopt);
  CHECK(items_for(R"({"events":[1],"x":{"Events":[2]}})") == std::nullopt);
  CHECK(items_for("{}") == std::nullopt);
}

TEST_CASE("broken structure in the collected array makes the whole result nullopt") {
  for (const char* json : {R"({"Events":[1 2]})", R"({"Events":[1,]})", R"({"Events":[,1]})", R"({"Events":[1})",
                           R"({"Events":[{"a":"]"})"}) {
    INFO(json);
    CHECK_FALSE(top_level_members_with_items(json, "Events"));
  }
}

TEST_CASE("members and items found in one pass are malformed for every proper prefix of a fixture") {
  const std::string json = read_fixture("variants/ticket_status_change.two_events.json");
  const std::size_t last_brace = json.rfind('}');
  std::vector<std::size_t> accepted_lengths;
  for (std::size_t length = 0; length <= last_brace; ++length) {
    const ExactBuffer prefix(std::string_view(json).substr(0, length));
    if (top_level_members_with_items(prefix.view(), "Events")) accepted_lengths.push_back(length);
  }
  CHECK(accepted_lengths.empty());
}
