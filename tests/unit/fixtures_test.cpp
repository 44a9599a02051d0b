// fixtures_test.cpp -- every fixture in tests/fixtures/ gets the answer its README gives, through decide().
#include <catch2/catch.hpp>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/decide.hpp"
#include "core/digest.hpp"
#include "core/rfc3339.hpp"

using namespace boardhook::core;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path fixtures = BOARDHOOK_FIXTURES;
constexpr std::string_view verify_token = "tidal-compass-2659";  // verification.txt's
constexpr std::int64_t received_at_ms = 1764242060123;  // 2025-11-27T11:14:20.123Z
constexpr std::string_view request_id = "9c1e5b7a0d3f4e2b8a6c1d0e9f8a7b6c";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path.string());
  REQUIRE(in.good());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// The *.json files directly inside `folder` (relative to the fixtures folder), sorted.
std::vector<std::string> json_files(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fixtures / folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      names.push_back((fs::path(folder) / entry.path().filename()).lexically_normal().generic_string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Config fixture_config() {
  Config config;
  config.verify_tokens = {std::string(verify_token)};
  return config;
}

Decision post(std::string_view body, std::size_t body_bytes, const Config& config = fixture_config()) {
  Request request;
  request.method = "POST";
  request.body = body;
  request.body_bytes = body_bytes;
  request.request_id = request_id;
  request.received_at_ms = received_at_ms;
  return decide(request, config);
}

Decision post(std::string_view body) { return post(body, body.size()); }

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  INFO("not JSON: " << text.substr(0, 300));
  REQUIRE_FALSE(ec);
  return value;
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

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The README rows of a fixture table: backquoted file name -> last column ("Expected answer").
std::map<std::string, std::string> readme_rows(const fs::path& readme) {
  std::map<std::string, std::string> rows;
  std::istringstream lines(read_bytes(readme));
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| `")) continue;
    const std::size_t name_end = line.find('`', 3);
    const std::string name = line.substr(3, name_end - 3);
    if (!name.ends_with(".json")) continue;
    const std::size_t last_bar = line.find_last_of('|');
    const std::size_t answer_start = line.find_last_of('|', last_bar - 1) + 1;
    rows[name] = line.substr(answer_start, last_bar - answer_start);
  }
  return rows;
}

// Checks one stored envelope of fixture `body` against the fixture itself, field by field.
// Returns the offset in `body` where the envelope's event bytes were found.
std::size_t check_envelope(const std::string& text, const std::string& body, const json::object& fixture, std::size_t index) {
  const json::object envelope = parse_json(text).as_object();
  const json::array& items = fixture.at("Events").as_array();
  const std::string event_type(fixture.at("EventType").as_string());

  CHECK(envelope.at("delivery").as_string() == request_id);
  CHECK(envelope.at("received_at").as_string() == format_rfc3339_ms(received_at_ms));
  CHECK(envelope.at("received_at").as_string() == "2025-11-27T11:14:20.123Z");
  CHECK(envelope.at("community") == fixture.at("CommunityName"));
  CHECK(envelope.at("event_type").as_string() == event_type);
  CHECK(envelope.at("index").to_number<std::size_t>() == index);
  CHECK(envelope.at("count").to_number<std::size_t>() == items.size());

  // ticket_id: TicketId, else Events[i].Ticket.Id, else null.
  json::value expected_ticket = nullptr;
  if (const json::value* ticket_id = fixture.if_contains("TicketId")) {
    expected_ticket = *ticket_id;
  } else if (const json::value* ticket = items[index].as_object().if_contains("Ticket");
             ticket && ticket->is_object() && ticket->as_object().contains("Id")) {
    expected_ticket = ticket->as_object().at("Id");
  }
  CHECK(envelope.at("ticket_id") == expected_ticket);

  // The event bytes: everything after the "event" key up to the envelope's closing brace. Every
  // string before it is escaped, so the first unescaped ,"event": is the key itself.
  const std::string key = ",\"event\":";
  const std::size_t key_at = text.find(key);
  REQUIRE(key_at != std::string::npos);
  REQUIRE(text.back() == '}');
  const std::string raw = text.substr(key_at + key.size(), text.size() - key_at - key.size() - 1);
  CHECK(parse_json(raw) == items[index]);

  // Those bytes are a whole item of the fixture's Events array, exactly as sent.
  const std::size_t at = body.find(raw);
  REQUIRE(at != std::string::npos);
  std::size_t before = at;
  while (before > 0 && is_json_space(body[before - 1])) --before;
  std::size_t after = at + raw.size();
  while (after < body.size() && is_json_space(body[after])) ++after;
  REQUIRE(before > 0);
  REQUIRE(after < body.size());
  CHECK((body[before - 1] == '[' || body[before - 1] == ','));
  CHECK((body[after] == ']' || body[after] == ','));

  // id = sha256("<len(event_type)>:<event_type>|<ticket id or null>|<item bytes>"), built independently.
  const std::string ticket_text = expected_ticket.is_null() ? "null" : json::serialize(expected_ticket);
  Sha256 hash;
  hash.update(std::to_string(event_type.size()) + ":" + event_type + "|" + ticket_text + "|" + raw);
  CHECK(envelope.at("id").as_string() == hash.hex_digest());
  return at;
}

struct BadFixture {
  const char* code;
  const char* detail_names;  // a word the detail must contain, or ""
};

// What each file in bad/ must get (bad/README.md); every file there must have a row.
const std::map<std::string, BadFixture> bad_fixtures = {
    {"bad/empty_body.json", {"empty_body", ""}},
    {"bad/events_not_array.json", {"invalid_envelope", "Events"}},
    {"bad/missing_event_type.json", {"invalid_envelope", "EventType"}},
    {"bad/non_utf8.json", {"invalid_encoding", ""}},
    {"bad/ticket_id_not_integer.json", {"invalid_envelope", "TicketId"}},
    {"bad/truncated.json", {"invalid_json", ""}},
    {"bad/wrong_top_level_type.json", {"invalid_envelope", ""}},
};

}  // namespace

// ---------------------------------------------------------------- good payloads

TEST_CASE("every good fixture is answered 200 and each of its events stored exactly") {
  std::vector<std::string> files = json_files(".");
  const std::vector<std::string> variants = json_files("variants");
  files.insert(files.end(), variants.begin(), variants.end());
  REQUIRE(files.size() >= 8);

  for (const std::string& name : files) {
    INFO("fixture " << name);
    const std::string body = read_bytes(fixtures / name);
    const json::object fixture = parse_json(body).as_object();
    const json::array& items = fixture.at("Events").as_array();
    const std::string event_type(fixture.at("EventType").as_string());

    const Decision decision = post(body);
    CHECK(decision.response.status == 200);
    CHECK(decision.response.content_type == "application/json");
    CHECK_FALSE(decision.reject);
    if (items.empty()) {
      CHECK_FALSE(decision.store);
      CHECK(decision.log_level == LogLevel::warn);
      continue;
    }
    REQUIRE(decision.store);
    CHECK(decision.store->queue_key == "boardhook:queue:" + event_type);
    CHECK(decision.store->event_types_key == "boardhook:event-types");
    CHECK(decision.store->event_type == event_type);
    REQUIRE(decision.store->envelopes.size() == items.size());
    std::size_t previous = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      INFO("event " << i);
      const std::size_t at = check_envelope(decision.store->envelopes[i], body, fixture, i);
      if (i > 0) CHECK(at > previous);  // stored in Events order
      previous = at;
    }
  }
}

TEST_CASE("every good fixture has a README row expecting 200 and every row has a file") {
  const auto rows = readme_rows(fixtures / "README.md");
  std::vector<std::string> files = json_files(".");
  const std::vector<std::string> variants = json_files("variants");
  files.insert(files.end(), variants.begin(), variants.end());
  for (const std::string& name : files) {
    INFO("fixture " << name);
    REQUIRE(rows.count(name) == 1);
    CHECK_THAT(rows.at(name), Catch::StartsWith(" 200"));
  }
  for (const auto& [name, answer] : rows) {
    INFO("README row " << name);
    CHECK(fs::exists(fixtures / name));
  }
}

TEST_CASE("the ticket_status_change fixture is stored with its TicketId") {
  const Decision decision = post(read_bytes(fixtures / "ticket_status_change.json"));
  REQUIRE(decision.store);
  REQUIRE(decision.store->envelopes.size() == 1);
  const json::object envelope = parse_json(decision.store->envelopes[0]).as_object();
  CHECK(decision.store->queue_key == "boardhook:queue:ticket_status_change");
  CHECK(envelope.at("community").as_string() == "tidewater-ceramics");
  CHECK(envelope.at("ticket_id").as_int64() == 7318842);
  CHECK(envelope.at("event").at("PreviousTicketStatus").as_string() == "open");
}

TEST_CASE("the note_deletion fixture is stored in the note_deletion queue") {
  const Decision decision = post(read_bytes(fixtures / "note_deletion.json"));
  REQUIRE(decision.store);
  CHECK(decision.store->queue_key == "boardhook:queue:note_deletion");
  REQUIRE(decision.store->envelopes.size() == 1);
  CHECK_THAT(decision.store->envelopes[0], Catch::EndsWith(",\"event\":{\n      \"NoteId\": 318270\n    }}"));
}

TEST_CASE("the legacy fixture without TicketId takes the id from Events 0 Ticket.Id") {
  const std::string body = read_bytes(fixtures / "variants/ticket_status_change.legacy_no_ticketid.json");
  REQUIRE(body.find("\"TicketId\"") == std::string::npos);
  const Decision decision = post(body);
  REQUIRE(decision.store);
  REQUIRE(decision.store->envelopes.size() == 1);
  CHECK(parse_json(decision.store->envelopes[0]).at("ticket_id").as_int64() == 2207391);
}

TEST_CASE("the nulls fixture with TicketId after Events is stored with that TicketId") {
  const Decision decision = post(read_bytes(fixtures / "variants/ticket_status_change.nulls.json"));
  REQUIRE(decision.store);
  REQUIRE(decision.store->envelopes.size() == 1);
  const json::value envelope = parse_json(decision.store->envelopes[0]);
  CHECK(envelope.at("ticket_id").as_int64() == 418806);
  CHECK(envelope.at("event").at("Ticket").at("Category").is_null());
}

TEST_CASE("the two-event fixture is stored as two envelopes in order") {
  const Decision decision = post(read_bytes(fixtures / "variants/ticket_status_change.two_events.json"));
  REQUIRE(decision.store);
  REQUIRE(decision.store->envelopes.size() == 2);
  const json::value first = parse_json(decision.store->envelopes[0]);
  const json::value second = parse_json(decision.store->envelopes[1]);
  CHECK(first.at("index").as_int64() == 0);
  CHECK(second.at("index").as_int64() == 1);
  CHECK(first.at("event").at("PreviousTicketStatus").as_string() == "open");
  CHECK(second.at("event").at("PreviousTicketStatus").as_string() == "pending");
  CHECK(second.at("event").at("Ticket").at("Status").as_string() == "completed");
  CHECK(first.at("id") != second.at("id"));
}

TEST_CASE("the unicode fixture's escapes are stored undecoded and its community decoded") {
  const Decision decision = post(read_bytes(fixtures / "variants/ticket_status_change.unicode.json"));
  REQUIRE(decision.store);
  REQUIRE(decision.store->envelopes.size() == 1);
  const std::string& text = decision.store->envelopes[0];
  CHECK_THAT(text, Catch::Contains(R"(\ud83d\ude00 \u2014 Tab:\tEnde")"));
  CHECK_THAT(text, Catch::Contains(R"(<script>alert(\"x\")</script>)"));
  CHECK(parse_json(text).at("community").as_string() == "caf\xc3\xa9-m\xc3\xbc" "ller-hilfe");
}

TEST_CASE("the unknown event type fixture is stored raw in its own queue") {
  const Decision decision = post(read_bytes(fixtures / "variants/unknown_event_type.json"));
  CHECK(decision.response.status == 200);
  REQUIRE(decision.store);
  CHECK(decision.store->queue_key == "boardhook:queue:x_unlisted_survey_answered");
  CHECK_THAT(decision.log_message, Catch::Contains("not a documented type"));
  CHECK(parse_json(decision.store->envelopes.at(0)).at("event").at("SurveyAnswer").at("Id").as_int64() == 66301);
}

TEST_CASE("the empty Events fixture is answered 200 with a warning and nothing queued") {
  const Decision decision = post(read_bytes(fixtures / "variants/ticket_status_change.empty_events.json"));
  CHECK(decision.response.status == 200);
  CHECK_FALSE(decision.store);
  CHECK_FALSE(decision.reject);
  CHECK(decision.log_level == LogLevel::warn);
}

TEST_CASE("a redelivered fixture gets the same event ids") {
  const std::string body = read_bytes(fixtures / "variants/ticket_status_change.two_events.json");
  Request again;
  again.method = "POST";
  again.body = body;
  again.body_bytes = body.size();
  again.request_id = "another-request";
  again.received_at_ms = received_at_ms + 60'000;
  const Decision first = post(body);
  const Decision second = decide(again, fixture_config());
  REQUIRE(first.store);
  REQUIRE(second.store);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(parse_json(first.store->envelopes.at(i)).at("id") == parse_json(second.store->envelopes.at(i)).at("id"));
    CHECK(first.store->envelopes.at(i) != second.store->envelopes.at(i));
  }
}

// ---------------------------------------------------------------- bad payloads

TEST_CASE("every bad fixture is refused with 400 and its reason and kept byte for byte") {
  const std::vector<std::string> files = json_files("bad");
  REQUIRE(files.size() >= bad_fixtures.size());
  for (const std::string& name : files) {
    INFO("fixture " << name);
    const std::string body = read_bytes(fixtures / name);
    const Decision decision = post(body);

    CHECK(decision.response.status == 400);
    CHECK(decision.response.content_type == "application/json");
    CHECK_FALSE(decision.store);
    const json::object answer = parse_json(decision.response.body).as_object();
    if (!body.empty()) CHECK(decision.response.body.find(body.substr(0, 40)) == std::string::npos);

    REQUIRE(decision.reject);
    CHECK(decision.reject->rejected_key == "boardhook:rejected");
    CHECK(decision.reject->keep == 1000);
    const json::object record = parse_json(decision.reject->record).as_object();
    CHECK(record.at("request_id").as_string() == request_id);
    CHECK(record.at("at").as_string() == format_rfc3339_ms(received_at_ms));
    CHECK(record.at("status").as_int64() == 400);
    CHECK(record.at("reason") == answer.at("error"));
    CHECK(record.at("body_bytes").to_number<std::size_t>() == body.size());
    CHECK(record.at("body_truncated").as_bool() == false);
    const std::string_view encoding = record.at("body_encoding").as_string();
    const std::string kept = encoding == "base64" ? base64_decode(record.at("body").as_string())
                                                  : std::string(record.at("body").as_string());
    CHECK(kept == body);

    // The explicit table: a new bad fixture must be given its expected answer here.
    REQUIRE(bad_fixtures.count(name) == 1);
    const BadFixture& expected = bad_fixtures.at(name);
    CHECK(answer.at("error").as_string() == expected.code);
    CHECK_THAT(std::string(answer.at("detail").as_string()), Catch::Contains(expected.detail_names));
    CHECK(encoding == (std::string_view(expected.code) == "invalid_encoding" ? "base64" : "utf-8"));
  }
}

TEST_CASE("the table of bad fixtures agrees with bad/README.md and the folder") {
  const auto rows = readme_rows(fixtures / "bad" / "README.md");
  for (const auto& [name, expected] : bad_fixtures) {
    INFO("fixture " << name);
    CHECK(fs::exists(fixtures / name));
    const std::string file = fs::path(name).filename().string();
    REQUIRE(rows.count(file) == 1);
    CHECK_THAT(rows.at(file), Catch::Contains("400"));
    CHECK_THAT(rows.at(file), Catch::Contains("`" + std::string(expected.code) + "`"));
    if (*expected.detail_names != '\0') CHECK_THAT(rows.at(file), Catch::Contains(std::string(expected.detail_names)));
  }
  for (const auto& [file, answer] : rows) {
    INFO("README row " << file);
    CHECK(bad_fixtures.count("bad/" + file) == 1);
  }
}

TEST_CASE("a huge string field is refused with 413 and only the first part kept") {
  // bad/README.md's file-less case: Events[0].Ticket.Message is 64 MiB of "A", as Python's
  // json.dumps writes it. The edge hands decide() only the first 64 KiB + 3 bytes of it.
  const std::string head =
      R"({"CommunityName": "c", "EventType": "ticket_status_change", "TicketId": 1, "Events": [{"Ticket": {"Id": 1, "Message": ")";
  const std::string tail = "\"}}]}\n";
  const std::size_t huge = std::size_t{64} << 20;
  const std::size_t total = head.size() + huge + tail.size();
  const std::string first_part = (head + std::string(max_kept_body_bytes + 3, 'A')).substr(0, max_kept_body_bytes + 3);

  const Decision decision = post(first_part, total);
  CHECK(decision.response.status == 413);
  CHECK(parse_json(decision.response.body).at("error").as_string() == "body_too_large");
  CHECK_FALSE(decision.store);
  REQUIRE(decision.reject);
  const json::object record = parse_json(decision.reject->record).as_object();
  CHECK(record.at("reason").as_string() == "body_too_large");
  CHECK(record.at("status").as_int64() == 413);
  CHECK(record.at("body_bytes").to_number<std::size_t>() == total);
  CHECK(record.at("body_truncated").as_bool() == true);
  CHECK(record.at("body").as_string() == first_part.substr(0, max_kept_body_bytes));
}

TEST_CASE("a long but valid string below the limit is accepted") {
  Config config = fixture_config();
  config.max_body_bytes = 256 * 1024;
  const std::string head =
      R"({"CommunityName": "c", "EventType": "ticket_status_change", "TicketId": 1, "Events": [{"Ticket": {"Id": 1, "Message": ")";
  const std::string tail = "\"}}]}\n";
  const std::string body = head + std::string(config.max_body_bytes - head.size() - tail.size(), 'A') + tail;
  REQUIRE(body.size() == config.max_body_bytes);
  const Decision decision = post(body, body.size(), config);
  CHECK(decision.response.status == 200);
  REQUIRE(decision.store);
  REQUIRE(decision.store->envelopes.size() == 1);
  const std::string item = body.substr(body.find("{\"Ticket\""), body.rfind(']') - body.find("{\"Ticket\""));
  CHECK_THAT(decision.store->envelopes[0], Catch::EndsWith(",\"event\":" + item + "}"));
}

// ---------------------------------------------------------------- verification.txt

TEST_CASE("the three verification.txt query strings get their expected answers") {
  std::istringstream lines(read_bytes(fixtures / "verification.txt"));
  std::optional<std::string> token;
  struct Case {
    std::string query;
    std::string expected;
  };
  std::vector<Case> cases;
  bool token_is_next = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("#")) {
      if (token_is_next) {
        token = line.substr(line.find_first_not_of("# "));
        token_is_next = false;
      }
      if (line.find("Verify Token is:") != std::string::npos) token_is_next = true;
      continue;
    }
    if (line.empty()) continue;
    const std::size_t arrow = line.find("  =>  ");
    REQUIRE(arrow != std::string::npos);
    std::string query = line.substr(0, arrow);
    REQUIRE(query.starts_with("?"));
    cases.push_back({query.substr(1), line.substr(arrow + 6)});
  }
  REQUIRE(token);
  CHECK(*token == verify_token);
  REQUIRE(cases.size() == 3);

  Config config;
  config.verify_tokens = {*token};
  for (const Case& item : cases) {
    INFO("?" << item.query << " => " << item.expected);
    Request request;
    request.method = "GET";
    request.query = item.query;
    request.request_id = request_id;
    const Decision decision = decide(request, config);
    CHECK(decision.response.status == std::stoi(item.expected));
    CHECK_FALSE(decision.store);
    CHECK_FALSE(decision.reject);

    const std::string exactly = "body exactly: ";
    if (const std::size_t at = item.expected.find(exactly); at != std::string::npos) {
      CHECK(decision.response.content_type == "text/plain; charset=utf-8");
      CHECK(decision.response.body == item.expected.substr(at + exactly.size()));
    } else {
      CHECK(decision.response.content_type == "application/json");
      CHECK(parse_json(decision.response.body).as_object().contains("error"));
      const std::size_t challenge_at = item.query.find("challenge=");
      if (challenge_at != std::string::npos) {
        const std::string challenge = item.query.substr(challenge_at + 10, item.query.find('&', challenge_at) - challenge_at - 10);
        CHECK_THAT(decision.response.body, !Catch::Contains(challenge));
      }
    }
  }
  CHECK(cases[0].expected.starts_with("200"));
  CHECK(cases[1].expected.starts_with("403"));
  CHECK(cases[2].expected.starts_with("400"));
}
