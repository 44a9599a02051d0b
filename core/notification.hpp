// notification.hpp -- parse and validate a Socialboards event notification (the POST body).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

// The deepest nesting a body may have. Real tickets nest about six levels; the limit
// keeps a hostile body from costing more than its size.
inline constexpr std::size_t max_json_depth = 64;

struct NotificationItem {
  std::string_view raw;                  // the item's bytes exactly as received
  std::optional<std::string> ticket_id;  // decimal; from TicketId, else the item's Ticket.Id
};

struct Notification {
  std::string community;
  std::string event_type;
  std::vector<NotificationItem> events;
};

// Why a body was refused: `code` is the stable machine-readable reason, `detail` a short
// human sentence that never quotes the body.
struct Problem {
  std::string code;
  std::string detail;
};

struct ParsedNotification {
  std::optional<Notification> notification;  // set on success
  Problem problem;                            // set on failure
};

// Validates `body` (UTF-8, JSON, envelope rules of SPEC.md 3.1) and splits it into items.
// The returned item views point into `body`.
// More than `max_events` items is refused (`too_many_events`).
ParsedNotification parse_notification(std::string_view body, std::size_t max_events = 1000);

// The event types Socialboards documents; others are accepted all the same.
bool is_documented_event_type(std::string_view event_type);

}  // namespace boardhook::core
