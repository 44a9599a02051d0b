// ticket_order.cpp -- the scripts that keep a ticket's events in order.
#include "core/ticket_order.hpp"

namespace boardhook::core {

// Only the first "ticket_id": counts: when the envelope's own is null, an unanchored match would
// go on into the event's bytes and take a "ticket_id" of the customer's content for the ticket.
const std::string_view lua_ticket_of = R"lua(
local function ticket_of(envelope)
  local _, name_end = string.find(envelope, '"ticket_id":', 1, true)
  if not name_end then return nil end
  return string.match(envelope, '^%-?%d+', name_end + 1)
end
)lua";

namespace {

const std::string_view take_ordered_body = R"lua(
local envelope = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not envelope then return false end
local ticket = ticket_of(envelope)
if not ticket then return {1, envelope} end
local hold = ARGV[1] .. ticket
local me = redis.sha1hex(envelope)
local holder = redis.call('GET', hold)
if not holder or holder == me then
  redis.call('SET', hold, me, 'PX', ARGV[3])
  return {1, envelope}
end
redis.call('LREM', KEYS[2], 1, envelope)
redis.call('RPUSH', ARGV[2] .. ticket, envelope)
redis.call('SADD', KEYS[3], ticket)
return {0, envelope}
)lua";

}  // namespace

std::string_view take_ordered_script() {
  static const std::string text = "#!lua\n" + std::string(lua_ticket_of) + std::string(take_ordered_body);
  return text;
}

const std::string_view release_script = R"lua(#!lua
if redis.call('GET', KEYS[1]) ~= redis.sha1hex(ARGV[1]) then return 0 end
local next = redis.call('LPOP', KEYS[2])
if next then
  redis.call('SET', KEYS[1], redis.sha1hex(next), 'PX', ARGV[3])
  redis.call('RPUSH', KEYS[3], next)
  if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
else
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], ARGV[2])
end
return 1
)lua";

const std::string_view unstick_script = R"lua(#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local next = redis.call('LPOP', KEYS[2])
if not next then
  redis.call('SREM', KEYS[4], ARGV[1])
  return 0
end
redis.call('SET', KEYS[1], redis.sha1hex(next), 'PX', ARGV[2])
redis.call('RPUSH', KEYS[3], next)
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[1]) end
return 1
)lua";

std::chrono::milliseconds hold_ttl(std::chrono::milliseconds backoff_max, std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds heartbeat_timeout) {
  return 2 * backoff_max + timeout + heartbeat_timeout + std::chrono::minutes(1);
}

}  // namespace boardhook::core
