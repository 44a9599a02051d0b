// worker_plan.cpp -- route parsing and retry back-off.
#include "core/worker_plan.hpp"

#include <algorithm>

#include "core/event_type.hpp"

namespace boardhook::core {

namespace {

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

Destination destination_of(std::string_view text) {
  const bool is_url = text.starts_with("http://") || text.starts_with("https://");
  return {is_url ? Destination::Kind::http : Destination::Kind::command, std::string(text)};
}

std::optional<std::pair<std::string, std::string>> parse_route(std::string_view line, std::string& error) {
  const std::size_t equals = line.find('=');
  if (equals == std::string_view::npos) {
    error = "expected TYPE=COMMAND";
    return std::nullopt;
  }
  const std::string_view type = trim(line.substr(0, equals));
  const std::string_view command = trim(line.substr(equals + 1));
  auto event_type = parse_event_type_argument(type, error);
  if (!event_type) return std::nullopt;
  if (command.empty()) {
    error = "no command for event type " + printable_event_type(*event_type);
    return std::nullopt;
  }
  return std::pair{std::move(*event_type), std::string(command)};
}

std::optional<std::map<std::string, std::string>> parse_routes(std::string_view text, std::string& error) {
  std::map<std::string, std::string> routes;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    if (line.empty() || line.front() == '#') continue;
    std::string problem;
    auto route = parse_route(line, problem);
    if (!route || !routes.emplace(*route).second) {
      error = "line " + std::to_string(line_number) + ": " + (route ? "event type " + printable_event_type(route->first) + " given twice" : problem);
      return std::nullopt;
    }
  }
  return routes;
}

std::chrono::milliseconds retry_delay(std::int64_t attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      double random_fraction) {
  const std::int64_t exponent = std::clamp<std::int64_t>(attempt - 1, 0, 30);
  const std::int64_t full = std::min<std::int64_t>(base.count() << exponent, cap.count());
  const double fraction = std::clamp(random_fraction, 0.0, 1.0);
  return std::chrono::milliseconds(full / 2 + static_cast<std::int64_t>(static_cast<double>(full / 2) * fraction));
}

}  // namespace boardhook::core
