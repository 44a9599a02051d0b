// log.cpp -- logger set-up: UTC timestamps, level, process and thread, message; one write(2) per line.
#include "io/log.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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

void write_fully(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;  // a log that cannot be written must not stop the service
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

// Where finished lines go. Lines below `warning` may wait in memory for up to
// `flush_interval` (a request's info line then costs a copy, not a system call); a warning or
// an error writes at once, with every line before it, so nothing important waits and the
// order is kept. Never destroyed: a flusher thread and atexit() use it to the very end.
class LineWriter {
 public:
  static constexpr auto flush_interval = std::chrono::milliseconds(100);
  static constexpr std::size_t flush_bytes = 64 * 1024;

  explicit LineWriter(int fd) : fd_(fd) {}

  void put(const char* data, std::size_t size, bool at_once) {
    std::unique_lock lock(mutex_);
    pending_.append(data, size);
    if (at_once || pending_.size() >= flush_bytes) {
      write_pending();
      return;
    }
    // The flusher is a thread of this process: after fork() the child has none yet.
    if (flusher_process_ != process_id.load(std::memory_order_relaxed)) start_flusher();
  }

  void flush() {
    std::lock_guard lock(mutex_);
    write_pending();
  }

  // fork() copies the mutex in whatever state another thread left it: hold it across.
  // The child's copy of the waiting lines is the parent's to write: dropped there.
  void before_fork() { mutex_.lock(); }
  void after_fork_in_parent() { mutex_.unlock(); }
  void after_fork_in_child() {
    pending_.clear();
    mutex_.unlock();
  }

 private:
  void start_flusher() {
    flusher_process_ = process_id.load(std::memory_order_relaxed);
    std::thread([this, owner = flusher_process_] {
      for (;;) {
        std::this_thread::sleep_for(flush_interval);
        std::lock_guard lock(mutex_);
        if (flusher_process_ != owner) return;  // never true in practice: the process is the owner
        write_pending();
      }
    }).detach();
  }

  // With mutex_ held: one write(2) of everything waiting.
  void write_pending() {
    write_fully(fd_, pending_.data(), pending_.size());
    pending_.clear();
  }

  const int fd_;
  std::mutex mutex_;
  std::string pending_;
  int flusher_process_ = 0;  // the process whose flusher thread runs
};

LineWriter* buffered_writer = nullptr;  // set once by init_logging(level, true)

// A sink for many threads: each thread formats with its own copy of the formatter
// (spdlog's formatters cache the time and are not thread-safe) into its own buffer; the line
// then goes out in one write(2), or through the buffered writer. spdlog's console sinks format
// and write under one mutex with fflush per line: with dozens of threads answering, that mutex
// was contended on about every request (two futex calls per request, strace -c), and the
// write itself cost a GET about a fifth of its handler time.
class LineSink final : public spdlog::sinks::sink {
 public:
  LineSink(int fd, LineWriter* writer) : fd_(fd), writer_(writer) { set_pattern(log_pattern); }

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
    if (writer_ != nullptr) {
      writer_->put(copy.line.data(), copy.line.size(), message.level >= spdlog::level::warn);
    } else {
      // A line is far below PIPE_BUF, so lines from different threads and processes never
      // interleave on a pipe, on journald's socket or in a file.
      write_fully(fd_, copy.line.data(), copy.line.size());
    }
  }

  void flush() override {
    if (writer_ != nullptr) writer_->flush();
  }

  void set_pattern(const std::string& pattern) override { set_formatter(make_formatter(pattern)); }

  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(prototype_mutex_);
    prototype_ = std::move(formatter);
    generation_.store(++formatter_generation, std::memory_order_release);
  }

 private:
  const int fd_;
  LineWriter* const writer_;
  std::mutex prototype_mutex_;
  std::unique_ptr<spdlog::formatter> prototype_;
  std::atomic<std::uint64_t> generation_{0};
};

void note_process_id() { process_id.store(static_cast<int>(getpid()), std::memory_order_relaxed); }

void before_fork() {
  if (buffered_writer != nullptr) buffered_writer->before_fork();
}
void after_fork_in_parent() {
  if (buffered_writer != nullptr) buffered_writer->after_fork_in_parent();
}
void after_fork_in_child() {
  note_process_id();
  if (buffered_writer != nullptr) buffered_writer->after_fork_in_child();
}

}  // namespace

void init_logging(std::string_view level, bool buffered) {
  static std::once_flag once;
  std::call_once(once, [buffered] {
    if (buffered) {
      buffered_writer = new LineWriter(STDERR_FILENO);  // never freed: see LineWriter
      std::atexit([] { buffered_writer->flush(); });
    }
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
  });
  note_process_id();
  auto logger = std::make_shared<spdlog::logger>("boardhook", std::make_shared<LineSink>(STDERR_FILENO, buffered_writer));
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
