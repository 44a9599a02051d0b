// routes.hpp -- which of the handler's answers a request is for. nginx names the route of each of
// its locations in the FastCGI parameter BOARDHOOK_ROUTE (the webhook's path is the operator's
// choice, so the path decides nothing); the probes answer GET only.
#pragma once
#include <optional>
#include <string_view>

#include "core/decide.hpp"

namespace boardhook::core {

enum class Route { webhook, healthz, metrics, queue_metrics, web };

// "healthz", "metrics" and "queue-metrics" are the probes, "web" the operators' view (core/web.hpp);
// anything else is the webhook.
Route route_of(std::string_view route_param);

inline bool is_probe(Route route) { return route == Route::healthz || route == Route::metrics || route == Route::queue_metrics; }

// The 405 a probe answers to any method but GET; nullopt when the method is served. The
// webhook's methods are decide()'s business.
std::optional<Response> refuse_probe_method(Route route, std::string_view method);

}  // namespace boardhook::core
