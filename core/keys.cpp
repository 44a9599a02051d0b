// keys.cpp -- Redis key names.
#include "core/keys.hpp"

#include "core/event_type.hpp"

namespace boardhook::core {

namespace {
std::string join(std::string_view prefix, std::string_view a, std::string_view b = {}) {
  std::string key;
  key.reserve(prefix.size() + a.size() + b.size() + 2);
  key.append(prefix).append(":").append(a);
  if (!b.empty()) key.append(":").append(b);
  return key;
}
}  // namespace

std::string queue_key(std::string_view prefix, std::string_view event_type) { return join(prefix, "queue", event_type_key_part(event_type)); }
std::string event_types_key(std::string_view prefix) { return join(prefix, "event-types"); }
std::string rejected_key(std::string_view prefix) { return join(prefix, "rejected"); }
std::string seen_key_prefix(std::string_view prefix) { return join(prefix, "seen") + ":"; }
std::string counters_key(std::string_view prefix) { return join(prefix, "counters"); }
std::string processing_key(std::string_view prefix, std::string_view consumer_id) { return join(prefix, "processing", consumer_id); }
std::string retry_key(std::string_view prefix, std::string_view event_type) { return join(prefix, "retry", event_type_key_part(event_type)); }
std::string attempts_key(std::string_view prefix, std::string_view event_type) { return join(prefix, "attempts", event_type_key_part(event_type)); }
std::string dead_key(std::string_view prefix, std::string_view event_type) { return join(prefix, "dead", event_type_key_part(event_type)); }
std::string paused_key(std::string_view prefix) { return join(prefix, "paused"); }
std::string rate_key(std::string_view prefix, std::string_view event_type) { return join(prefix, "rate", event_type_key_part(event_type)); }
std::string in_flight_key(std::string_view prefix, std::string_view event_type) {
  return join(prefix, "in-flight", event_type_key_part(event_type));
}
std::string ticket_hold_key(std::string_view prefix, std::string_view event_type, std::string_view ticket) {
  return join(prefix, "ticket", event_type_key_part(event_type)) + ":" + std::string(ticket);
}
std::string held_key(std::string_view prefix, std::string_view event_type, std::string_view ticket) {
  return join(prefix, "held", event_type_key_part(event_type)) + ":" + std::string(ticket);
}
std::string held_tickets_key(std::string_view prefix, std::string_view event_type) {
  return join(prefix, "held-tickets", event_type_key_part(event_type));
}
std::string archive_key(std::string_view prefix) { return join(prefix, "archive"); }
std::string workers_key(std::string_view prefix) { return join(prefix, "workers"); }
std::string heartbeat_key(std::string_view prefix, std::string_view worker_id) { return join(prefix, "heartbeat", worker_id); }
std::string_view counter_name(Counter counter) {
  switch (counter) {
    case Counter::queued: return "queued";
    case Counter::done: return "done";
    case Counter::retried: return "retried";
    case Counter::dead: return "dead";
  }
  return "unknown";
}

std::string counter_field(Counter counter, std::string_view event_type) {
  std::string field(counter_name(counter));
  field.append(":").append(event_type_key_part(event_type));
  return field;
}

std::optional<CounterField> parse_counter_field(std::string_view field) {
  const std::size_t colon = field.find(':');
  if (colon == std::string_view::npos || colon + 1 == field.size()) return std::nullopt;
  for (const Counter counter : all_counters) {
    if (field.substr(0, colon) == counter_name(counter)) return CounterField{counter, std::string(field.substr(colon + 1))};
  }
  return std::nullopt;
}

}  // namespace boardhook::core
