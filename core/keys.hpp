// keys.hpp -- the Redis key names of boardhook's data model: the one place they are spelled.
//
// Handler, workers and the inspection tool all build key names here, so the data model
// documented in the README cannot drift between programs. An event type appears in key names
// and counter fields as its key part (event_type.hpp): unchanged for the documented types.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

// <prefix>:queue:<event type> -- events waiting for a worker; LPUSH in, take from the right.
std::string queue_key(std::string_view prefix, std::string_view event_type);
// <prefix>:event-types -- set of every event type ever queued, so tools need no SCAN.
std::string event_types_key(std::string_view prefix);
// <prefix>:rejected -- capped list of rejected POSTs, newest first.
std::string rejected_key(std::string_view prefix);
// <prefix>:seen:<envelope id> -- set when an envelope is queued, expires after the deduplication
// window; this gives the part before the id.
std::string seen_key_prefix(std::string_view prefix);
// <prefix>:counters -- hash of running totals ("queued:<type>", "done:<type>", ...) for rates.
std::string counters_key(std::string_view prefix);

// Workers.
// <prefix>:processing:<consumer> -- the one job a consumer is running (reliable fetch).
std::string processing_key(std::string_view prefix, std::string_view consumer_id);
// <prefix>:retry:<type> -- sorted set of envelopes waiting to be retried, scored by due time (ms).
std::string retry_key(std::string_view prefix, std::string_view event_type);
// <prefix>:attempts:<type> -- hash: envelope id -> attempts started.
std::string attempts_key(std::string_view prefix, std::string_view event_type);
// <prefix>:dead:<type> -- list of dead-letter records (envelope + last error), newest first.
std::string dead_key(std::string_view prefix, std::string_view event_type);
// <prefix>:workers -- hash: worker id -> JSON description (host, pid, consumers, types).
std::string workers_key(std::string_view prefix);
// <prefix>:heartbeat:<worker> -- expires when the worker stops beating.
std::string heartbeat_key(std::string_view prefix, std::string_view worker_id);

// Flow control, shared by every worker on every host.
// <prefix>:paused -- set of the event types no worker takes (boardhook-queues pause / resume).
std::string paused_key(std::string_view prefix);
// <prefix>:rate:<type> -- the rate limit's state (GCRA: when the next event is due, Unix ms).
std::string rate_key(std::string_view prefix, std::string_view event_type);
// <prefix>:in-flight:<type> -- sorted set: consumer id -> when its slot expires (Unix ms).
std::string in_flight_key(std::string_view prefix, std::string_view event_type);

// Order per ticket (--order-by ticket).
// <prefix>:ticket:<type>:<ticket> -- which event of the ticket may run now (the SHA-1 of its envelope).
std::string ticket_hold_key(std::string_view prefix, std::string_view event_type, std::string_view ticket);
// <prefix>:held:<type>:<ticket> -- the ticket's later events, waiting in order for the one that runs.
std::string held_key(std::string_view prefix, std::string_view event_type, std::string_view ticket);
// <prefix>:held-tickets:<type> -- set of the tickets that have events waiting in a held list.
std::string held_tickets_key(std::string_view prefix, std::string_view event_type);

// <prefix>:archive -- a stream of every envelope queued (BOARDHOOK_ARCHIVE_SECONDS), trimmed by age.
std::string archive_key(std::string_view prefix);

// The running totals in <prefix>:counters: the handler counts what it queued, workers what they
// finished, retried and gave up on; boardhook-queues turns them into rates.
enum class Counter { queued, done, retried, dead };
inline constexpr Counter all_counters[] = {Counter::queued, Counter::done, Counter::retried, Counter::dead};
std::string_view counter_name(Counter counter);  // "queued", "done", "retried", "dead"

// The field "<counter name>:<event type key part>".
std::string counter_field(Counter counter, std::string_view event_type);

// Reads a field made by counter_field; nullopt for any other text.
struct CounterField {
  Counter counter;
  std::string type_key_part;  // as in key names (event_type.hpp)
};
std::optional<CounterField> parse_counter_field(std::string_view field);

}  // namespace boardhook::core
