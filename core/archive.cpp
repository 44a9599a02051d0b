// archive.cpp -- reading the archive stream's entries and selecting them.
#include "core/archive.hpp"

#include <charconv>

#include "core/envelope.hpp"
#include "core/json_escape.hpp"
#include "core/rfc3339.hpp"

namespace boardhook::core {

std::optional<ArchivedEvent> parse_archive_entry(std::string_view archive_id, const std::vector<std::string>& fields) {
  ArchivedEvent event;
  event.archive_id = archive_id;
  const std::string_view millis = archive_id.substr(0, archive_id.find('-'));
  const auto [end, error] = std::from_chars(millis.data(), millis.data() + millis.size(), event.archived_ms);
  if (error != std::errc() || end != millis.data() + millis.size()) return std::nullopt;
  bool has_type = false, has_envelope = false;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i] == "type") event.event_type = fields[i + 1], has_type = true;
    else if (fields[i] == "ticket") event.ticket = fields[i + 1];
    else if (fields[i] == "envelope") event.envelope = fields[i + 1], has_envelope = true;
  }
  if (!has_type || !has_envelope) return std::nullopt;
  return event;
}

std::string archive_range_start(const ArchiveFilter& filter) {
  return filter.since_ms ? std::to_string(*filter.since_ms) + "-0" : "-";
}

std::string archive_range_end(const ArchiveFilter& filter) {
  if (!filter.last_id.empty()) {
    const std::string_view millis = std::string_view(filter.last_id).substr(0, filter.last_id.find('-'));
    std::int64_t last_ms = 0;
    std::from_chars(millis.data(), millis.data() + millis.size(), last_ms);
    if (!filter.until_ms || *filter.until_ms >= last_ms) return filter.last_id;
  }
  // An id without its sequence part means its whole millisecond in an end bound.
  return filter.until_ms ? std::to_string(*filter.until_ms) : "+";
}

std::string archive_range_after(std::string_view last_id) { return "(" + std::string(last_id); }

bool archive_selects(const ArchiveFilter& filter, const ArchivedEvent& event) {
  if (filter.event_type && *filter.event_type != event.event_type) return false;
  if (filter.ticket && *filter.ticket != event.ticket) return false;
  if (filter.since_ms && event.archived_ms < *filter.since_ms) return false;
  if (filter.until_ms && event.archived_ms > *filter.until_ms) return false;
  return true;
}

std::string archive_line(const ArchivedEvent& event) {
  const auto summary = parse_envelope(event.envelope);
  std::string line = format_rfc3339_ms(event.archived_ms);
  line += "  " + event.event_type;
  line += "  ticket " + (event.ticket.empty() ? std::string("-") : event.ticket);
  line += "  " + (summary ? summary->id.substr(0, 16) : std::string("?"));
  line += "  delivery " + (summary ? summary->delivery : std::string("?"));
  return line;
}

namespace {

// The fields both JSON forms share, up to the envelope's value.
std::string archive_json_head(const ArchivedEvent& event) {
  std::string out = "{\"archive_id\":";
  append_json_string(out, event.archive_id);
  out += ",\"archived_at\":";
  append_json_string(out, format_rfc3339_ms(event.archived_ms));
  out += ",\"type\":";
  append_json_string(out, event.event_type);
  out += ",\"ticket\":";
  // As the envelope writes it: a JSON number (the script took it from there), or null.
  if (event.ticket.empty() || event.ticket.find_first_not_of("-0123456789") != std::string::npos) out += "null";
  else out += event.ticket;
  out += ",\"envelope\":";
  return out;
}

}  // namespace

std::string archive_json(const ArchivedEvent& event) { return archive_json_head(event) + event.envelope + "}"; }

std::string archive_export_line(const ArchivedEvent& event) {
  std::string out = archive_json_head(event);
  append_json_string(out, event.envelope);
  out += '}';
  return out;
}

}  // namespace boardhook::core
