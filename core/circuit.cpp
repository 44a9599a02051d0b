// circuit.cpp -- the circuit breaker's transitions.
#include "core/circuit.hpp"

#include <algorithm>

namespace boardhook::core {

bool Circuit::may_take(TimePoint now) {
  switch (state_) {
    case State::closed: return true;
    case State::open:
      if (now < reopens_at_) return false;
      state_ = State::half_open;
      probe_out_ = true;
      return true;
    case State::half_open:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return false;
}

bool Circuit::succeeded() {
  const bool changed = state_ != State::closed;
  state_ = State::closed;
  consecutive_ = 0;
  probe_out_ = false;
  cooldown_ = std::chrono::milliseconds(0);
  return changed;
}

bool Circuit::failed(TimePoint now) {
  ++consecutive_;
  spared_ = false;
  if (state_ == State::closed && consecutive_ < policy_.failures_to_open) return false;
  // Opening now, or the probe failed: the cool-down starts (longer each time it reopens).
  spared_ = true;
  cooldown_ = cooldown_.count() == 0 ? policy_.cooldown : std::min(cooldown_ * 2, policy_.cooldown_max);
  reopens_at_ = now + cooldown_;
  probe_out_ = false;
  const bool changed = state_ != State::open;
  state_ = State::open;
  return changed;
}

void Circuit::abandoned() { probe_out_ = false; }

std::string_view circuit_state_name(Circuit::State state) {
  switch (state) {
    case Circuit::State::closed: return "closed";
    case Circuit::State::open: return "open";
    case Circuit::State::half_open: return "half-open";
  }
  return "?";
}

}  // namespace boardhook::core
