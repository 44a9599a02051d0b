// log.cpp -- logger set-up: UTC timestamps, level, thread, message.
#include "io/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace boardhook::io {

void init_logging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("boardhook");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l [%P:%t] %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void log_at(core::LogLevel level, std::string_view message) {
  switch (level) {
    case core::LogLevel::debug: spdlog::debug("{}", message); break;
    case core::LogLevel::info: spdlog::info("{}", message); break;
    case core::LogLevel::warn: spdlog::warn("{}", message); break;
    case core::LogLevel::error: spdlog::error("{}", message); break;
  }
}

}  // namespace boardhook::io
