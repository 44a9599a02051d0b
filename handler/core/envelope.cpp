// envelope.cpp -- builds envelope JSON by hand so that `event` keeps the sender's exact bytes.
#include "core/envelope.hpp"

#include "core/json_escape.hpp"
#include "core/sha256.hpp"

namespace boardhook::core {

std::string event_id(std::string_view event_type, const std::optional<std::string>& ticket_id, std::string_view event) {
  Sha256 hash;
  hash.update(std::to_string(event_type.size()));
  hash.update(":");
  hash.update(event_type);
  hash.update("|");
  hash.update(ticket_id ? std::string_view(*ticket_id) : std::string_view("null"));
  hash.update("|");
  hash.update(event);
  return hash.hex_digest();
}

std::string make_envelope(const EnvelopeFields& fields) {
  std::string out;
  out.reserve(fields.event.size() + fields.community.size() + fields.event_type.size() + 256);
  out += "{\"id\":\"";
  out += event_id(fields.event_type, fields.ticket_id, fields.event);
  out += "\",\"delivery\":";
  append_json_string(out, fields.delivery);
  out += ",\"received_at\":";
  append_json_string(out, fields.received_at);
  out += ",\"community\":";
  append_json_string(out, fields.community);
  out += ",\"event_type\":";
  append_json_string(out, fields.event_type);
  out += ",\"ticket_id\":";
  out += fields.ticket_id ? *fields.ticket_id : std::string("null");
  out += ",\"index\":";
  out += std::to_string(fields.index);
  out += ",\"count\":";
  out += std::to_string(fields.count);
  out += ",\"event\":";
  out += fields.event;
  out += '}';
  return out;
}

}  // namespace boardhook::core
