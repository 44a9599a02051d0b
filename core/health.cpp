// health.cpp -- /healthz: can this handler keep the promise of a 200 right now?
#include "core/health.hpp"

#include "core/json_escape.hpp"

namespace boardhook::core {

Response health_response(const HealthFacts& facts) {
  const bool can_store = facts.redis_ok || facts.spool_ok;
  // degraded: events are accepted, but only into the local spool.
  const char* status = facts.redis_ok ? "ok" : (can_store ? "degraded" : "unavailable");
  std::string body = "{\"status\":\"";
  body += status;
  body += "\",\"redis\":";
  append_json_string(body, facts.redis_detail);
  body += ",\"spool\":";
  append_json_string(body, facts.spool_configured ? facts.spool_detail : std::string("off"));
  body += '}';
  Response response{can_store ? 200 : 503, "application/json", {}, std::move(body)};
  if (!can_store) response.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return response;
}

}  // namespace boardhook::core
