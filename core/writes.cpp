// writes.cpp -- StoreEvents / KeepRejected to and from spool records.
#include "core/writes.hpp"

#include <charconv>

#include "core/keys.hpp"

namespace boardhook::core {

Transaction transaction_for(const StoreEvents& store) {
  const StoreEvents* const stores[] = {&store};
  return batch_transaction_for(stores).transaction;  // a batch of one: LPUSH, SADD, HINCRBY
}

Transaction transaction_for(const KeepRejected& reject) {
  Transaction transaction;
  const std::string& last_index = transaction.owned.emplace_back(std::to_string(static_cast<long long>(reject.keep) - 1));
  transaction.commands = {{"LPUSH", reject.rejected_key, reject.record}, {"LTRIM", reject.rejected_key, "0", last_index}};
  return transaction;
}

BatchTransaction batch_transaction_for(std::span<const StoreEvents* const> stores) {
  BatchTransaction batch;
  batch.group_of_request.reserve(stores.size());
  // The first request of each group; groups are few (one per event type in the batch), so a
  // linear search beats a map.
  std::vector<const StoreEvents*> group_heads;
  std::vector<std::size_t> group_events;
  for (const StoreEvents* store : stores) {
    std::size_t group = 0;
    while (group < group_heads.size() &&
           !(group_heads[group]->queue_key == store->queue_key && group_heads[group]->event_type == store->event_type &&
             group_heads[group]->event_types_key == store->event_types_key &&
             group_heads[group]->counters_key == store->counters_key)) {
      ++group;
    }
    if (group == group_heads.size()) {
      group_heads.push_back(store);
      group_events.push_back(0);
    }
    group_events[group] += store->envelopes.size();
    batch.group_of_request.push_back(group);
  }
  std::vector<RedisCommand>& commands = batch.transaction.commands;
  commands.reserve(3 * group_heads.size());
  for (std::size_t group = 0; group < group_heads.size(); ++group) {
    const StoreEvents& head = *group_heads[group];
    batch.groups.push_back({commands.size(), commands.size() + 3});
    RedisCommand push{"LPUSH", head.queue_key};
    push.reserve(2 + group_events[group]);
    for (std::size_t request = 0; request < stores.size(); ++request) {
      if (batch.group_of_request[request] != group) continue;
      for (const std::string& envelope : stores[request]->envelopes) push.push_back(envelope);
    }
    const std::string& field = batch.transaction.owned.emplace_back(counter_field(Counter::queued, head.event_type));
    const std::string& count = batch.transaction.owned.emplace_back(std::to_string(group_events[group]));
    commands.push_back(std::move(push));
    commands.push_back({"SADD", head.event_types_key, head.event_type});
    commands.push_back({"HINCRBY", head.counters_key, field, count});
  }
  return batch;
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
