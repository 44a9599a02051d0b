// writes.cpp -- StoreEvents / KeepRejected to and from spool records.
#include "core/writes.hpp"

#include <charconv>

#include "core/keys.hpp"

namespace boardhook::core {

Transaction transaction_for(const KeepRejected& reject) {
  Transaction transaction;
  const std::string& last_index = transaction.owned.emplace_back(std::to_string(static_cast<long long>(reject.keep) - 1));
  transaction.commands = {{"LPUSH", reject.rejected_key, reject.record}, {"LTRIM", reject.rejected_key, "0", last_index}};
  return transaction;
}

SpoolRecord to_spool_record(const StoreEvents& store, std::int64_t now_ms) {
  SpoolRecord record{SpoolRecordKind::events, now_ms,
                     {store.queue_key, store.event_types_key, store.counters_key, store.event_type}};
  record.fields.insert(record.fields.end(), store.envelopes.begin(), store.envelopes.end());
  return record;
}

SpoolRecord to_spool_record(const KeepRejected& reject, std::int64_t now_ms) {
  return {SpoolRecordKind::rejected, now_ms, {reject.rejected_key, std::to_string(reject.keep), reject.record}};
}

std::optional<StoreEvents> store_events_from(const SpoolRecord& record) {
  if (record.kind != SpoolRecordKind::events || record.fields.size() < 5) return std::nullopt;
  StoreEvents store{record.fields[0], record.fields[1], record.fields[2], record.fields[3], {}};
  store.envelopes.assign(record.fields.begin() + 4, record.fields.end());
  return store;
}

std::optional<KeepRejected> keep_rejected_from(const SpoolRecord& record) {
  if (record.kind != SpoolRecordKind::rejected || record.fields.size() != 3) return std::nullopt;
  std::size_t keep = 0;
  const std::string& text = record.fields[1];
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), keep);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return KeepRejected{record.fields[0], record.fields[2], keep};
}

}  // namespace boardhook::core
