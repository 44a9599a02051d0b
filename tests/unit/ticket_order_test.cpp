// ticket_order_test.cpp -- what can be checked of the ordering scripts without Redis (core/ticket_order.hpp).
// The scripts themselves run in integration.order (and ticket_of in integration.archive): the
// unit tests have no Lua interpreter.
#include <catch2/catch.hpp>

#include <string>

#include "core/ingest.hpp"
#include "core/ticket_order.hpp"

using namespace boardhook::core;
using namespace std::chrono_literals;

TEST_CASE("the archive and the ticket holds read an envelope's ticket with one and the same function") {
  // A ticket filed in the archive under one id and held under another would let `archive
  // --ticket` and the order disagree about which events are a ticket's.
  const std::string ticket_of(lua_ticket_of);
  CHECK(std::string(ingest_script()).find(ticket_of) != std::string::npos);
  CHECK(std::string(take_ordered_script()).find(ticket_of) != std::string::npos);
}

TEST_CASE("ticket_of looks at the first \"ticket_id\": only, and its value right there") {
  // An unanchored match of "ticket_id":(digits) skips a null and reads on into the event's
  // content (integration.order: a ticketless event then held a ticket nobody released).
  const std::string ticket_of(lua_ticket_of);
  CHECK(ticket_of.find("string.find(envelope, '\"ticket_id\":', 1, true)") != std::string::npos);
  CHECK(ticket_of.find("'^%-?%d+'") != std::string::npos);
}

TEST_CASE("a hold outlives the longest retry wait, a run and a heartbeat timeout") {
  const auto ttl = hold_ttl(300s, 60s, 30s);
  CHECK(ttl > 300s + 60s + 30s);
  CHECK(hold_ttl(1s, 1s, 1s) >= 60s);
}
