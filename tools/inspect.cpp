// inspect.cpp -- boardhook-queues peek, dead and rejected: what waits, what failed, what was refused.
#include <algorithm>
#include <cstdio>

#include "core/dead_letter.hpp"
#include "core/envelope.hpp"
#include "core/keys.hpp"
#include "core/rejected_record.hpp"
#include "tools/session.hpp"

namespace boardhook::tools {

int peek(Session& session) {
  const std::string type = session.type_argument();
  const std::size_t n = session.count_argument(2, 10);
  const std::string queue = core::queue_key(session.prefix(), type);
  std::vector<std::string> envelopes;
  if (session.options().newest) {
    envelopes = session.strings({"LRANGE", queue, "0", std::to_string(n - 1)});
  } else {
    envelopes = session.strings({"LRANGE", queue, "-" + std::to_string(n), "-1"});
    std::reverse(envelopes.begin(), envelopes.end());  // oldest first
  }
  if (session.options().json) {
    print_json_array(envelopes);
    return envelopes.empty() ? exit_nothing : exit_ok;
  }
  std::printf("%-64s %-24s %-12s %-32s %s\n", "ID", "RECEIVED", "TICKET", "DELIVERY", "EVENT BYTES");
  for (const std::string& envelope : envelopes) {
    const auto s = core::parse_envelope(envelope);
    if (!s) {
      std::printf("(not an envelope: %zu bytes)\n", envelope.size());
      continue;
    }
    std::printf("%-64s %-24s %-12s %-32s %zu\n", s->id.c_str(), s->received_at.c_str(), s->ticket_id.value_or("null").c_str(),
                s->delivery.c_str(), envelope.size());
  }
  return envelopes.empty() ? exit_nothing : exit_ok;
}

int dead(Session& session) {
  const std::string type = session.type_argument();
  const std::size_t n = session.count_argument(2, 10);
  const std::vector<std::string> records =
      session.strings({"LRANGE", core::dead_key(session.prefix(), type), "0", std::to_string(n - 1)});
  if (session.options().json) {
    print_json_array(records);
    return records.empty() ? exit_nothing : exit_ok;
  }
  std::printf("%-24s %-64s %8s %s\n", "FAILED AT", "EVENT ID", "ATTEMPTS", "ERROR");
  for (const std::string& text : records) {
    const auto record = core::parse_dead_record(text);
    if (!record) {
      std::printf("(not a dead-letter record: %zu bytes)\n", text.size());
      continue;
    }
    const auto summary = core::parse_envelope(record->envelope);
    std::printf("%-24s %-64s %8lld %s\n", record->failed_at.c_str(), summary ? summary->id.c_str() : "?",
                static_cast<long long>(record->attempts), record->failure.error.c_str());
  }
  return records.empty() ? exit_nothing : exit_ok;
}

int rejected(Session& session) {
  const std::size_t n = session.count_argument(1, 10);
  const std::vector<std::string> records =
      session.strings({"LRANGE", core::rejected_key(session.prefix()), "0", std::to_string(n - 1)});
  if (session.options().json) {
    print_json_array(records);
    return records.empty() ? exit_nothing : exit_ok;
  }
  std::printf("%-24s %-32s %6s %-20s %10s %s\n", "AT", "REQUEST ID", "STATUS", "REASON", "BYTES", "DETAIL");
  for (const std::string& text : records) {
    const auto record = core::parse_rejected_record(text);
    if (!record) {
      std::printf("(not a rejected-request record: %zu bytes)\n", text.size());
      continue;
    }
    std::printf("%-24s %-32s %6d %-20s %10zu %s\n", record->at.c_str(), record->request_id.c_str(), record->status,
                record->reason.c_str(), record->body_bytes, record->detail.c_str());
  }
  return records.empty() ? exit_nothing : exit_ok;
}

}  // namespace boardhook::tools
