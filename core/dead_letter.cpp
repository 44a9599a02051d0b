// dead_letter.cpp -- dead-letter records: built by hand so the envelope keeps its bytes.
#include "core/dead_letter.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "core/json_escape.hpp"
#include "core/json_spans.hpp"
#include "core/rfc3339.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

std::string to_valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = 1;
    for (std::size_t candidate = 1; candidate <= 4 && i + candidate <= text.size(); ++candidate) {
      if (is_valid_utf8(text.substr(i, candidate))) {
        length = candidate;
        break;
      }
      length = 0;
    }
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string make_dead_record(std::string_view envelope, const JobFailure& failure, std::int64_t attempts,
                             std::string_view worker_id, std::int64_t failed_at_ms) {
  std::string record = "{\"failed_at\":";
  append_json_string(record, format_rfc3339_ms(failed_at_ms));
  record += ",\"worker\":";
  append_json_string(record, worker_id);
  record += ",\"attempts\":" + std::to_string(attempts);
  record += ",\"exit_code\":" + (failure.exit_code ? std::to_string(*failure.exit_code) : std::string("null"));
  record += ",\"signal\":" + (failure.signal ? std::to_string(*failure.signal) : std::string("null"));
  record += failure.timed_out ? ",\"timed_out\":true" : ",\"timed_out\":false";
  record += ",\"http_status\":" + (failure.http_status ? std::to_string(*failure.http_status) : std::string("null"));
  record += ",\"error\":";
  append_json_string(record, to_valid_utf8(failure.error));
  record += ",\"stderr_tail\":";
  append_json_string(record, to_valid_utf8(failure.stderr_tail));
  record += ",\"envelope\":";
  record += envelope;
  record += '}';
  return record;
}

std::optional<std::string_view> dead_record_envelope(std::string_view record) {
  const auto members = top_level_members(record);
  if (!members) return std::nullopt;
  for (const JsonMember& member : *members) {
    if (member.key == "envelope") return member.value;
  }
  return std::nullopt;
}

std::optional<DeadRecord> parse_dead_record(std::string_view record) {
  const auto envelope = dead_record_envelope(record);
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(record, ec);
  if (!envelope || ec || !value.is_object()) return std::nullopt;
  const boost::json::object& o = value.get_object();
  const auto text = [&o](std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const auto integer = [&o](std::string_view key) -> std::optional<std::int64_t> {
    const auto* v = o.if_contains(key);
    if (v && v->is_int64()) return v->get_int64();
    return std::nullopt;
  };
  DeadRecord dead;
  dead.failed_at = text("failed_at");
  dead.worker = text("worker");
  dead.attempts = integer("attempts").value_or(0);
  if (const auto code = integer("exit_code")) dead.failure.exit_code = static_cast<int>(*code);
  if (const auto signal = integer("signal")) dead.failure.signal = static_cast<int>(*signal);
  if (const auto status = integer("http_status")) dead.failure.http_status = static_cast<int>(*status);
  const auto* timed_out = o.if_contains("timed_out");
  dead.failure.timed_out = timed_out && timed_out->is_bool() && timed_out->get_bool();
  dead.failure.error = text("error");
  dead.failure.stderr_tail = text("stderr_tail");
  dead.envelope = std::string(*envelope);
  return dead;
}

bool DeadFilter::matches(const DeadRecord& record, std::string_view event_id_of_record) const {
  if (!event_id.empty() && event_id != event_id_of_record) return false;
  if (since_ms || until_ms) {
    const auto failed_at = parse_rfc3339_ms(record.failed_at);
    if (!failed_at || (since_ms && *failed_at < *since_ms) || (until_ms && *failed_at >= *until_ms)) return false;
  }
  if (!error_contains.empty() && record.failure.error.find(error_contains) == std::string::npos &&
      record.failure.stderr_tail.find(error_contains) == std::string::npos) {
    return false;
  }
  if (exit_code && record.failure.exit_code != exit_code) return false;
  if (http_status && record.failure.http_status != http_status) return false;
  return true;
}

std::optional<std::int64_t> parse_time_argument(std::string_view text, std::int64_t now_ms) {
  if (const auto at = parse_rfc3339_ms(text)) return at;
  if (text.size() < 2) return std::nullopt;
  const char unit = text.back();
  const std::int64_t scale = unit == 's' ? 1000 : unit == 'm' ? 60'000 : unit == 'h' ? 3'600'000 : unit == 'd' ? 86'400'000 : 0;
  std::int64_t count = 0;
  const std::string_view digits = text.substr(0, text.size() - 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (scale == 0 || ec != std::errc{} || end != digits.data() + digits.size() || count < 0) return std::nullopt;
  return now_ms - count * scale;
}

}  // namespace boardhook::core
