// keys.cpp -- Redis key names.
#include "core/keys.hpp"

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

std::string queue_key(std::string_view prefix, std::string_view event_type) { return join(prefix, "queue", event_type); }
std::string event_types_key(std::string_view prefix) { return join(prefix, "event-types"); }
std::string rejected_key(std::string_view prefix) { return join(prefix, "rejected"); }

}  // namespace boardhook::core
