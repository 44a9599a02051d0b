// ingest.cpp -- the ingest script and the arguments of one batch.
#include "core/ingest.hpp"

#include "core/envelope.hpp"
#include "core/keys.hpp"

namespace boardhook::core {

// KEYS: per group, its queue, the event-types set and the counters hash.
// ARGV: dedup seconds (0: off), the seen-key prefix, then per group: the event type, the counter
// field, the number of envelopes n, then n pairs of (id, envelope).
const std::string_view ingest_script = R"lua(#!lua
local dedup = tonumber(ARGV[1])
local seen = ARGV[2]
local function holds(key, kind)
  local found = redis.call('TYPE', key)['ok']
  return found == 'none' or found == kind
end
local results = {}
local a = 3
for g = 1, #KEYS, 3 do
  local queue, types, counters = KEYS[g], KEYS[g + 1], KEYS[g + 2]
  local event_type, field, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local first = a + 3
  a = first + 2 * n
  if not (holds(queue, 'list') and holds(types, 'set') and holds(counters, 'hash')) then
    results[#results + 1] = {0, 'WRONGTYPE a key of ' .. queue .. ' holds the wrong kind of value'}
  else
    local queued, skipped = 0, 0
    for i = first, a - 1, 2 do
      if dedup > 0 and ARGV[i] ~= '' and not redis.call('SET', seen .. ARGV[i], '1', 'NX', 'EX', dedup) then
        skipped = skipped + 1
      else
        redis.call('LPUSH', queue, ARGV[i + 1])
        queued = queued + 1
      end
    end
    if queued > 0 then
      redis.call('SADD', types, event_type)
      redis.call('HINCRBY', counters, field, queued)
    end
    results[#results + 1] = {1, queued, skipped}
  end
end
return results
)lua";

namespace {

bool same_group(const StoreEvents& a, const StoreEvents& b) {
  return a.queue_key == b.queue_key && a.event_type == b.event_type && a.event_types_key == b.event_types_key &&
         a.counters_key == b.counters_key;
}

}  // namespace

IngestCommand ingest_command_for(std::span<const StoreEvents* const> stores, std::int64_t dedup_seconds,
                                 std::string_view seen_prefix) {
  IngestCommand command;
  // The first request of each group; groups are few (one per event type in the batch), so a
  // linear search beats a map.
  std::vector<const StoreEvents*> heads;
  std::vector<std::size_t> events;
  for (const StoreEvents* store : stores) {
    std::size_t group = 0;
    while (group < heads.size() && !same_group(*heads[group], *store)) ++group;
    if (group == heads.size()) {
      heads.push_back(store);
      events.push_back(0);
    }
    events[group] += store->envelopes.size();
    command.group_of_request.push_back(group);
  }
  command.groups = heads.size();
  Transaction& t = command.transaction;
  const auto own = [&t](std::string text) -> std::string_view { return t.owned.emplace_back(std::move(text)); };
  RedisCommand eval{"EVAL", ingest_script, own(std::to_string(3 * heads.size()))};
  for (const StoreEvents* head : heads) {
    eval.insert(eval.end(), {head->queue_key, head->event_types_key, head->counters_key});
  }
  eval.push_back(own(std::to_string(dedup_seconds)));
  eval.push_back(own(std::string(seen_prefix)));   // callers pass seen_key_prefix()'s temporary
  for (std::size_t group = 0; group < heads.size(); ++group) {
    eval.insert(eval.end(), {heads[group]->event_type, own(counter_field(Counter::queued, heads[group]->event_type)),
                             own(std::to_string(events[group]))});
    for (std::size_t request = 0; request < stores.size(); ++request) {
      if (command.group_of_request[request] != group) continue;
      for (const std::string& envelope : stores[request]->envelopes) {
        // An envelope without an id of ours (not made by make_envelope) is never skipped.
        eval.push_back(envelope_id(envelope).value_or(std::string_view()));
        eval.push_back(envelope);
      }
    }
  }
  t.commands.push_back(std::move(eval));
  return command;
}

}  // namespace boardhook::core
