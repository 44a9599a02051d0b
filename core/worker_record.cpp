// worker_record.cpp -- worker and consumer ids, and the worker's record in <prefix>:workers.
#include "core/worker_record.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>

#include "core/json_escape.hpp"

namespace boardhook::core {

namespace json = boost::json;

std::string make_worker_id(std::string_view host, std::int64_t pid, std::uint32_t nonce) {
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06x", static_cast<unsigned>(nonce & 0xFFFFFF));
  std::string id(host);
  id.append(":").append(std::to_string(pid)).append(":").append(digits);
  return id;
}

std::string consumer_id(std::string_view worker_id, int index) {
  std::string id(worker_id);
  id.append(":").append(std::to_string(index));
  return id;
}

std::string make_worker_record(const WorkerRecord& record) {
  std::string text = "{\"host\":";
  append_json_string(text, record.host);
  text += ",\"pid\":" + std::to_string(record.pid);
  text += ",\"consumers\":" + std::to_string(record.consumers);
  text += ",\"started_at\":";
  append_json_string(text, record.started_at);
  text += ",\"types\":[";
  for (std::size_t i = 0; i < record.types.size(); ++i) {
    if (i > 0) text += ',';
    append_json_string(text, record.types[i]);
  }
  text += "],\"circuits\":{";
  bool first = true;
  for (const auto& [type, state] : record.circuits) {
    if (!first) text += ',';
    first = false;
    append_json_string(text, type);
    text += ':';
    append_json_string(text, state);
  }
  text += "}}";
  return text;
}

std::optional<WorkerRecord> parse_worker_record(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const json::object& o = value.get_object();
  WorkerRecord record;
  if (const auto* host = o.if_contains("host"); host && host->is_string()) record.host = host->get_string();
  if (const auto* pid = o.if_contains("pid"); pid && pid->is_int64()) record.pid = pid->get_int64();
  if (const auto* consumers = o.if_contains("consumers"); consumers && consumers->is_int64()) {
    record.consumers = static_cast<int>(std::clamp<std::int64_t>(consumers->get_int64(), 1, max_consumers));
  }
  if (const auto* started = o.if_contains("started_at"); started && started->is_string()) record.started_at = started->get_string();
  if (const auto* types = o.if_contains("types"); types && types->is_array()) {
    for (const json::value& type : types->get_array()) {
      if (type.is_string()) record.types.emplace_back(type.get_string());
    }
  }
  if (const auto* circuits = o.if_contains("circuits"); circuits && circuits->is_object()) {
    for (const auto& [type, state] : circuits->get_object()) {
      if (state.is_string()) record.circuits[std::string(type)] = state.get_string();
    }
  }
  return record;
}

}  // namespace boardhook::core
