// log.hpp -- the one spdlog logger, on stderr (never FastCGI's error stream, which nginx logs as errors).
#pragma once
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <string_view>

#include "core/decide.hpp"

namespace boardhook::io {

// Installs the process-wide logger at `level` ("debug", "info", "warn", "error") on stderr.
// `buffered`: lines below warn may wait up to 100 ms in memory and go out together (the
// handler, which logs a line per request); warnings and errors, and everything before them,
// are written at once, as is what waits at exit and at flush(). The first call decides.
void init_logging(std::string_view level, bool buffered = false);

void log_at(core::LogLevel level, std::string_view message);

// Lets a repeated message through at most once per interval, across threads.
class LogThrottle {
 public:
  bool should_log(std::chrono::steady_clock::duration interval) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_.load();
    if (last != 0 && now - last < interval.count()) return false;
    return last_.compare_exchange_strong(last, now);
  }

 private:
  std::atomic<std::chrono::steady_clock::rep> last_{0};
};

}  // namespace boardhook::io
