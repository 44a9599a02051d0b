// ticket_order.cpp -- the scripts that keep a ticket's events in order.
#include "core/ticket_order.hpp"

namespace boardhook::core {

const std::string_view take_ordered_script = R"lua(#!lua
local envelope = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not envelope then return false end
local ticket = string.match(envelope, '"ticket_id":(%-?%d+)')
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
