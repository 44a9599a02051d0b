// circuit.hpp -- a circuit breaker per destination: after enough consecutive failures a worker
// stops taking events for it for a cool-down that grows, then lets one event through. Events wait
// in their queue meanwhile, and spend no attempts, so an application down for an hour loses
// nothing and dead-letters nothing. Pure: times are given.
#pragma once
#include <chrono>
#include <cstdint>
#include <string_view>

namespace boardhook::core {

struct CircuitPolicy {
  int failures_to_open = 5;                    // consecutive failures that open it
  std::chrono::milliseconds cooldown{5'000};   // the first cool-down; doubles each time it reopens
  std::chrono::milliseconds cooldown_max{300'000};
};

class Circuit {
 public:
  enum class State { closed, open, half_open };
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit Circuit(CircuitPolicy policy = {}) : policy_(policy) {}

  // May an event be taken now? Closed: yes. Open: no, until the cool-down ends; then one event
  // (the circuit is half-open) and no other until that one reports.
  bool may_take(TimePoint now);
  // The event taken after may_take() said yes succeeded, or failed in a way that says the
  // destination is down. Returns true when this changed the state (the caller logs it once).
  bool succeeded();
  bool failed(TimePoint now);
  // A taken event that is not run after all (given back): lets the next probe go.
  void abandoned();

  State state() const { return state_; }
  // True when the last failure opened the circuit or was a probe's: that event's attempt is not
  // counted, since the destination, not the event, failed.
  bool last_failure_spared_attempt() const { return spared_; }
  TimePoint reopens_at() const { return reopens_at_; }
  std::chrono::milliseconds current_cooldown() const { return cooldown_; }
  int consecutive_failures() const { return consecutive_; }

 private:
  CircuitPolicy policy_;
  State state_ = State::closed;
  int consecutive_ = 0;
  bool probe_out_ = false;
  bool spared_ = false;
  std::chrono::milliseconds cooldown_{0};
  TimePoint reopens_at_{};
};

std::string_view circuit_state_name(Circuit::State state);  // "closed", "open", "half-open"

}  // namespace boardhook::core
