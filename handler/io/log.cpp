// log.cpp -- logger set-up: UTC timestamps, level, process and thread, message; one write(2) per line.
#include "io/log.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <spdlog/details/fmt_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>

namespace boardhook::io {

namespace {

constexpr char log_pattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %l [%*:%t] %v";

// The process id, written by the `%*` flag. spdlog's own %P asks the kernel on every line
// (glibc no longer caches getpid()); this is read once and again in each child after fork.
std::atomic<int> process_id{0};

class ProcessIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& out) override {
    spdlog::details::fmt_helper::append_int(process_id.load(std::memory_order_relaxed), out);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<ProcessIdFlag>(); }
};

std::unique_ptr<spdlog::formatter> make_formatter(const std::string& pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<ProcessIdFlag>('*').set_pattern(pattern);
  return formatter;
}

// Bumped whenever a sink is made or its pattern changes, so each thread's copy of the
// formatter is known to be current without a lock.
std::atomic<std::uint64_t> formatter_generation{0};

// A sink for many threads that takes no lock per line: each thread formats with its own
// copy of the formatter (spdlog's formatters cache the time and are not thread-safe) into
// its own buffer, then hands the line to the kernel in one write(2). A line is far below
// PIPE_BUF, so lines from different threads and processes never interleave on a pipe, on
// journald's socket or in a file. spdlog's console sinks format and write under one mutex
// with fflush per line: with 32 threads answering, that mutex was contended on about every
// request (two futex calls per request, measured with strace -c).
// Nothing is buffered, so flush() has nothing to do and a crash loses no line.
class LineSink final : public spdlog::sinks::sink {
 public:
  explicit LineSink(int fd) : fd_(fd) { set_pattern(log_pattern); }

  void log(const spdlog::details::log_msg& message) override {
    struct ThreadCopy {
      std::uint64_t generation = 0;
      std::unique_ptr<spdlog::formatter> formatter;
      spdlog::memory_buf_t line;
    };
    thread_local ThreadCopy copy;
    const std::uint64_t current = generation_.load(std::memory_order_acquire);
    if (copy.generation != current || !copy.formatter) {
      std::lock_guard lock(prototype_mutex_);
      copy.formatter = prototype_->clone();
      copy.generation = current;
    }
    copy.line.clear();
    copy.formatter->format(message, copy.line);
    write_all(copy.line.data(), copy.line.size());
  }

  void flush() override {}

  void set_pattern(const std::string& pattern) override { set_formatter(make_formatter(pattern)); }

  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(prototype_mutex_);
    prototype_ = std::move(formatter);
    generation_.store(++formatter_generation, std::memory_order_release);
  }

 private:
  void write_all(const char* data, std::size_t size) const {
    while (size > 0) {
      const ssize_t written = ::write(fd_, data, size);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return;  // a log that cannot be written must not stop the service
      data += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  const int fd_;
  std::mutex prototype_mutex_;
  std::unique_ptr<spdlog::formatter> prototype_;
  std::atomic<std::uint64_t> generation_{0};
};

void note_process_id() { process_id.store(static_cast<int>(getpid()), std::memory_order_relaxed); }

}  // namespace

void init_logging(std::string_view level) {
  static std::once_flag fork_handler;
  std::call_once(fork_handler, [] { pthread_atfork(nullptr, nullptr, note_process_id); });
  note_process_id();
  auto logger = std::make_shared<spdlog::logger>("boardhook", std::make_shared<LineSink>(STDERR_FILENO));
  logger->set_level(spdlog::level::from_str(std::string(level)));
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
