// archive_test.cpp -- the archive's entries, selections and JSON forms (core/archive.hpp).
// (integration.archive runs the commands against Redis.)
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "core/archive.hpp"
#include "core/envelope.hpp"

using namespace boardhook::core;

namespace {

std::string pretty_envelope() {
  EnvelopeFields fields;
  fields.delivery = "d1";
  fields.received_at = "2026-12-04T10:00:00.000Z";
  fields.community = "larch";
  fields.event_type = "ticket_status_change";
  fields.ticket_id = "4478963";
  fields.count = 1;
  fields.event = "{\n  \"Status\": \"solved\",\r\n  \"Note\": \"caf\xc3\xa9 \\\"x\\\"\"\n}";
  return make_envelope(fields);
}

ArchivedEvent event(std::int64_t ms, std::string type, std::string ticket) {
  return {std::to_string(ms) + "-0", ms, std::move(type), std::move(ticket), pretty_envelope()};
}

}  // namespace

TEST_CASE("an archive entry is read from its stream id and fields, in any order") {
  const auto entry = parse_archive_entry("1796400000123-7", {"envelope", "{}", "ticket", "42", "type", "a b"});
  REQUIRE(entry);
  CHECK(entry->archived_ms == 1796400000123);
  CHECK(entry->archive_id == "1796400000123-7");
  CHECK(entry->event_type == "a b");
  CHECK(entry->ticket == "42");
  CHECK(entry->envelope == "{}");
  CHECK(parse_archive_entry("1-0", {"type", "a", "envelope", "{}"})->ticket.empty());
}

TEST_CASE("what the ingest script did not write is not an archive entry") {
  CHECK_FALSE(parse_archive_entry("x-0", {"type", "a", "envelope", "{}"}));
  CHECK_FALSE(parse_archive_entry("1-0", {"type", "a"}));
  CHECK_FALSE(parse_archive_entry("1-0", {"envelope", "{}"}));
  CHECK_FALSE(parse_archive_entry("1-0", {}));
}

TEST_CASE("a time range is an XRANGE: open ends are - and +, until covers its whole millisecond") {
  ArchiveFilter filter;
  CHECK(archive_range_start(filter) == "-");
  CHECK(archive_range_end(filter) == "+");
  filter.since_ms = 1000;
  filter.until_ms = 2000;
  CHECK(archive_range_start(filter) == "1000-0");
  CHECK(archive_range_end(filter) == "2000");
  CHECK(archive_range_after("1500-3") == "(1500-3");
}

TEST_CASE("a replay's end is the archive's newest entry when it began, unless until is earlier") {
  ArchiveFilter filter;
  filter.last_id = "1500-2";
  CHECK(archive_range_end(filter) == "1500-2");
  filter.until_ms = 2000;
  CHECK(archive_range_end(filter) == "1500-2");
  filter.until_ms = 1500;
  CHECK(archive_range_end(filter) == "1500-2");
  filter.until_ms = 1499;
  CHECK(archive_range_end(filter) == "1499");
}

TEST_CASE("every condition given must hold") {
  const ArchivedEvent e = event(1500, "ticket_status_change", "4478963");
  ArchiveFilter filter;
  CHECK(archive_selects(filter, e));
  filter.event_type = "ticket_status_change";
  CHECK(archive_selects(filter, e));
  filter.ticket = "4478963";
  CHECK(archive_selects(filter, e));
  filter.since_ms = 1500;
  filter.until_ms = 1500;
  CHECK(archive_selects(filter, e));
  SECTION("another type") { filter.event_type = "note_deletion"; }
  SECTION("another ticket") { filter.ticket = "44789630"; }
  SECTION("a ticket for an event without one") { filter.ticket = ""; }
  SECTION("too early") { filter.since_ms = 1501; }
  SECTION("too late") { filter.until_ms = 1499; }
  CHECK_FALSE(archive_selects(filter, e));
}

TEST_CASE("the export line is one line of JSON that gives the envelope back byte for byte") {
  const ArchivedEvent e = event(1796400000123, "ticket_status_change", "4478963");
  const std::string line = archive_export_line(e);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  const boost::json::object parsed = boost::json::parse(line).as_object();
  CHECK(parsed.at("envelope").as_string() == e.envelope);
  CHECK(parsed.at("archive_id").as_string() == "1796400000123-0");
  CHECK(parsed.at("archived_at").as_string() == "2026-12-04T16:00:00.123Z");
  CHECK(parsed.at("type").as_string() == "ticket_status_change");
  CHECK(parsed.at("ticket").as_int64() == 4478963);
}

TEST_CASE("the --json form holds the envelope as the JSON it is, and a missing ticket as null") {
  const ArchivedEvent e = event(1000, "note_deletion", "");
  const std::string text = archive_json(e);
  const boost::json::object parsed = boost::json::parse(text).as_object();
  CHECK(parsed.at("ticket").is_null());
  CHECK(parsed.at("envelope").as_object().at("ticket_id").as_int64() == 4478963);
  CHECK(text.find(e.envelope) != std::string::npos);
}

TEST_CASE("a listing line says when, type, ticket, id and delivery") {
  const std::string line = archive_line(event(0, "a", ""));
  CHECK(line.rfind("1970-01-01T00:00:00.000Z  a  ticket -  ", 0) == 0);
  CHECK(line.find("delivery d1") != std::string::npos);
}
