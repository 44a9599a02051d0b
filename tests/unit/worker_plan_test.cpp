// worker_plan_test.cpp -- worker routes from arguments and files; retry back-off with jitter.
#include <catch2/catch.hpp>

#include "core/worker_plan.hpp"

using namespace boardhook::core;
using std::chrono::milliseconds;

TEST_CASE("a route is TYPE=COMMAND, with the command kept whole") {
  std::string error;
  const auto route = parse_route(" note_deletion = ./handle.sh --mode=a ", error);
  REQUIRE(route);
  CHECK(route->first == "note_deletion");
  CHECK(route->second == "./handle.sh --mode=a");
}

TEST_CASE("malformed routes are refused with a reason") {
  std::string error;
  CHECK_FALSE(parse_route("no equals sign", error));
  CHECK(error.find("TYPE=COMMAND") != std::string::npos);
  CHECK_FALSE(parse_route("50%=cmd", error));
  CHECK(error.find("%25") != std::string::npos);
  CHECK_FALSE(parse_route("=cmd", error));
  CHECK_FALSE(parse_route("t=", error));
  CHECK(error.find("no command") != std::string::npos);
}

TEST_CASE("a route's type may be any event type, written as it is or with its key escapes") {
  std::string error;
  CHECK(parse_route("Ticket cr\xC3\xA9\xC3\xA9 = run.sh", error)->first == "Ticket cr\xC3\xA9\xC3\xA9");
  CHECK(parse_route("a%3Db=run.sh", error)->first == "a=b");
  CHECK(parse_route("a%3Db=run.sh --x=1", error)->second == "run.sh --x=1");
}

TEST_CASE("a routes file skips comments and blank lines and names the bad line") {
  std::string error;
  const auto routes = parse_routes("# workers\n\nticket_status_change = a.sh\nnote_deletion=b.sh\n", error);
  REQUIRE(routes);
  CHECK(routes->size() == 2);
  CHECK(routes->at("ticket_status_change") == "a.sh");
  CHECK_FALSE(parse_routes("a=1\nb\n", error));
  CHECK(error.starts_with("line 2:"));
  CHECK_FALSE(parse_routes("a=1\na=2\n", error));
  CHECK(error.find("given twice") != std::string::npos);
}

TEST_CASE("retry delays double from the base, with half of each delay random") {
  const milliseconds base{1000}, cap{300'000};
  CHECK(retry_delay(1, base, cap, 0.0) == milliseconds(500));
  CHECK(retry_delay(1, base, cap, 0.999) >= milliseconds(999));
  CHECK(retry_delay(2, base, cap, 0.0) == milliseconds(1000));
  CHECK(retry_delay(3, base, cap, 0.0) == milliseconds(2000));
  CHECK(retry_delay(4, base, cap, 1.0) == milliseconds(8000));
}

TEST_CASE("retry delays never exceed the cap, even after very many attempts") {
  const milliseconds base{1000}, cap{300'000};
  for (std::int64_t attempt : {20, 40, 100, 1000}) {
    CHECK(retry_delay(attempt, base, cap, 1.0) <= cap);
    CHECK(retry_delay(attempt, base, cap, 0.0) >= cap / 2);
  }
}
