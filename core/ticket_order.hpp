// ticket_order.hpp -- one event per ticket at a time, in queue order, across every worker on every
// host (--order-by ticket). A ticket's "hold" names the one event that may run (the SHA-1 of its
// envelope); an event of the ticket taken while another holds it waits, in order, in the ticket's
// held list instead of running. When the holder is done (acknowledged, or a dead letter) the next
// held event takes the hold and goes to the consuming end of the queue; while the holder waits for
// a retry it keeps the hold, so the ticket's later events keep their place behind it. A crashed
// worker's event comes back to the queue still holding. Every change is one Lua script.
#pragma once
#include <chrono>
#include <string_view>

namespace boardhook::core {

// Takes the oldest event of an ordered queue and, in the same step, decides whether it may run:
// taking and deciding apart, two consumers taking a ticket's consecutive events could park them in
// the wrong order. KEYS: queue, processing list, held-tickets set. ARGV: the hold key and the held
// key without the ticket (ticket_hold_key(prefix, type, "") and held_key(...)), hold TTL (ms).
// Returns nil: the queue is empty; {1, envelope}: run it (it holds its ticket, or has none);
// {0, envelope}: it waits in its ticket's held list. The ticket is read from the envelope's own
// "ticket_id" member, the first in the text that can hold that name unescaped.
extern const std::string_view take_ordered_script;

// KEYS: hold, held list, queue, held-tickets set. ARGV: envelope, ticket, hold TTL (ms). If the
// envelope holds the ticket, the next held event (if any) takes the hold and is pushed to the
// consuming end of the queue, else the hold is dropped. Returns 1 when it released the hold.
extern const std::string_view release_script;

// KEYS: hold, held list, queue, held-tickets set. ARGV: ticket, hold TTL. A ticket whose hold has
// gone (its holder purged, the hold expired) while events wait: the next one takes it.
extern const std::string_view unstick_script;

// How long a hold lives unrenewed: longer than the longest wait for a retry plus a run, so an
// event waiting to be retried keeps its place. Renewed at each run and retry.
std::chrono::milliseconds hold_ttl(std::chrono::milliseconds backoff_max, std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds heartbeat_timeout);

}  // namespace boardhook::core
