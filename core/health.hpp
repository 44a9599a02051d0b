// health.hpp -- the /healthz answer from the facts the edge gathered.
#pragma once
#include <string>

#include "core/decide.hpp"

namespace boardhook::core {

struct HealthFacts {
  bool redis_ok = false;
  std::string redis_detail;   // "ok" or why not
  bool spool_configured = false;
  bool spool_ok = false;
  std::string spool_detail;   // "ok", "off", or why not
};

// 200 when events can be stored (Redis takes them, or the spool can), 503 otherwise; the
// JSON body says which: {"status":"ok"|"degraded"|"unavailable","redis":…,"spool":…}.
Response health_response(const HealthFacts& facts);

}  // namespace boardhook::core
