// keys.hpp -- the Redis key names of boardhook's data model: the one place they are spelled.
//
// Handler, workers and the inspection tool all build key names here, so the data model
// documented in the README cannot drift between programs.
#pragma once
#include <string>
#include <string_view>

namespace boardhook::core {

// <prefix>:queue:<event type> -- events waiting for a worker; LPUSH in, take from the right.
std::string queue_key(std::string_view prefix, std::string_view event_type);
// <prefix>:event-types -- set of every event type ever queued, so tools need no SCAN.
std::string event_types_key(std::string_view prefix);
// <prefix>:rejected -- capped list of rejected POSTs, newest first.
std::string rejected_key(std::string_view prefix);

}  // namespace boardhook::core
