// routes.cpp -- route names and the probes' one method.
#include "core/routes.hpp"

namespace boardhook::core {

Route route_of(std::string_view route_param) {
  if (route_param == "healthz") return Route::healthz;
  if (route_param == "metrics") return Route::metrics;
  if (route_param == "queue-metrics") return Route::queue_metrics;
  if (route_param == "web") return Route::web;
  return Route::webhook;
}

std::optional<Response> refuse_probe_method(Route route, std::string_view method) {
  if (!is_probe(route) || method == "GET") return std::nullopt;
  return Response{405, "application/json", {{"Allow", "GET"}}, "{\"error\":\"method_not_allowed\",\"detail\":\"GET only\"}"};
}

}  // namespace boardhook::core
