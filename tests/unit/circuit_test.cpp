// circuit_test.cpp -- the circuit breaker: opening after N failures, a cool-down that doubles per
// failed probe, one probe at a time, spared attempts.
#include <catch2/catch.hpp>

#include "core/circuit.hpp"

using namespace boardhook::core;
using std::chrono::milliseconds;

namespace {

const Circuit::TimePoint t0{};
const CircuitPolicy policy{3, milliseconds(500), milliseconds(2000)};

}  // namespace

TEST_CASE("a circuit opens after the configured consecutive failures and sheds no attempt before that") {
  Circuit circuit(policy);
  CHECK_FALSE(circuit.failed(t0));
  CHECK_FALSE(circuit.last_failure_spared_attempt());
  CHECK_FALSE(circuit.failed(t0));
  CHECK(circuit.state() == Circuit::State::closed);
  CHECK(circuit.failed(t0));  // the third opens it, and its event is given back
  CHECK(circuit.state() == Circuit::State::open);
  CHECK(circuit.last_failure_spared_attempt());
  CHECK(circuit.current_cooldown() == milliseconds(500));
}

TEST_CASE("a success between failures starts the count again") {
  Circuit circuit(policy);
  circuit.failed(t0);
  circuit.failed(t0);
  CHECK_FALSE(circuit.succeeded());
  CHECK_FALSE(circuit.failed(t0));
  CHECK(circuit.state() == Circuit::State::closed);
}

TEST_CASE("an open circuit lets one probe through after its cool-down, and a success closes it") {
  Circuit circuit(policy);
  for (int i = 0; i < 3; ++i) circuit.failed(t0);
  CHECK_FALSE(circuit.may_take(t0 + milliseconds(499)));
  CHECK(circuit.may_take(t0 + milliseconds(500)));
  CHECK(circuit.state() == Circuit::State::half_open);
  CHECK_FALSE(circuit.may_take(t0 + milliseconds(600)));  // one probe at a time
  CHECK(circuit.succeeded());
  CHECK(circuit.state() == Circuit::State::closed);
  CHECK(circuit.may_take(t0 + milliseconds(600)));
}

TEST_CASE("each failed probe doubles the cool-down, up to the longest") {
  Circuit circuit(policy);
  for (int i = 0; i < 3; ++i) circuit.failed(t0);
  auto now = t0;
  for (const int expected : {1000, 2000, 2000}) {
    now = circuit.reopens_at();
    REQUIRE(circuit.may_take(now));
    CHECK(circuit.failed(now));
    CHECK(circuit.last_failure_spared_attempt());
    CHECK(circuit.current_cooldown() == milliseconds(expected));
    CHECK(circuit.reopens_at() == now + milliseconds(expected));
  }
}

TEST_CASE("events already running when the circuit opened, failing after it, are spared without lengthening the cool-down") {
  Circuit circuit(policy);
  for (int i = 0; i < 3; ++i) circuit.failed(t0);  // opens: 500 ms
  CHECK_FALSE(circuit.failed(t0 + milliseconds(10)));
  CHECK(circuit.last_failure_spared_attempt());
  CHECK_FALSE(circuit.failed(t0 + milliseconds(20)));
  CHECK(circuit.current_cooldown() == milliseconds(500));
  CHECK(circuit.reopens_at() == t0 + milliseconds(500));
  CHECK(circuit.may_take(t0 + milliseconds(500)));
}

TEST_CASE("a probe given back untried lets the next one go") {
  Circuit circuit(policy);
  for (int i = 0; i < 3; ++i) circuit.failed(t0);
  REQUIRE(circuit.may_take(t0 + milliseconds(500)));
  circuit.abandoned();
  CHECK(circuit.may_take(t0 + milliseconds(501)));
}
