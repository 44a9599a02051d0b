// log.hpp -- the one spdlog logger, on stderr (never FastCGI's error stream, which nginx logs as errors).
#pragma once
#include <spdlog/spdlog.h>

#include <string_view>

#include "core/decide.hpp"

namespace boardhook::io {

// Installs the process-wide logger at `level` ("debug", "info", "warn", "error").
void init_logging(std::string_view level);

void log_at(core::LogLevel level, std::string_view message);

}  // namespace boardhook::io
