// job_runner.cpp -- posix_spawn with pipes, one poll over stdin, stderr and the child's pidfd, and a
// deadline. No step sleeps: the exit is seen in the same poll as the pipes (a pidfd becomes
// readable when its process ends), so a consumer runs at the pace of posix_spawn.
#include "worker/job_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

extern char** environ;

namespace boardhook::worker {

namespace {

using Clock = std::chrono::steady_clock;

// How much of the command's stderr is kept for the log and the dead-letter record.
constexpr std::size_t stderr_tail_bytes = 4096;
constexpr std::chrono::seconds kill_grace{5};

struct Descriptor {
  int fd = -1;
  Descriptor() = default;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

struct Child {
  pid_t pid = -1;
  Descriptor pidfd;        // readable once the command has ended
  Descriptor stdin_write;  // our end of its stdin
  Descriptor stderr_read;  // our end of its stderr
};

void keep_tail(std::string& tail, const char* data, std::size_t size) {
  tail.append(data, size);
  if (tail.size() > 2 * stderr_tail_bytes) tail.erase(0, tail.size() - stderr_tail_bytes);
}

std::string last_bytes(const std::string& text) {
  if (text.size() <= stderr_tail_bytes) return text;
  std::string tail = text.substr(text.size() - stderr_tail_bytes);
  const std::size_t newline = tail.find('\n');  // start at a line boundary when there is one
  return newline == std::string::npos ? tail : tail.substr(newline + 1);
}

// Ours, with `environment` added (replacing variables of the same name).
std::vector<std::string> child_environment(const std::map<std::string, std::string>& environment) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (environment.count(std::string(text.substr(0, text.find('=')))) == 0) entries.emplace_back(text);
  }
  for (const auto& [name, value] : environment) entries.push_back(name + "=" + value);
  return entries;
}

// Starts `/bin/sh -c command` in its own process group (so a timeout ends its children too), with
// default signal handling and an empty mask, not the worker's (which blocks SIGTERM for
// sigwait). Returns "" or why it could not start.
std::string spawn(const std::string& command, const std::map<std::string, std::string>& environment, Child& child) {
  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return std::string("cannot start: pipe: ") + std::strerror(errno);
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return std::string("cannot start: pipe: ") + std::strerror(errno);
  }
  child.stdin_write.fd = in[1];
  child.stderr_read.fd = err[0];

  std::vector<std::string> env_strings = child_environment(environment);
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string shell_command = command;
  char shell[] = "/bin/sh", dash_c[] = "-c";
  char* argv[] = {shell, dash_c, shell_command.data(), nullptr};
  const int spawn_error = posix_spawn(&child.pid, "/bin/sh", &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(in[0]);
  close(err[1]);
  if (spawn_error != 0) return std::string("cannot start: ") + std::strerror(spawn_error);
  // glibc 2.36 declares pidfd_open without C linkage for C++; the system call is the same.
  child.pidfd.fd = static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd.fd < 0) {  // a kernel before 5.3: the command runs, but nothing could time it
    kill(-child.pid, SIGKILL);
    waitpid(child.pid, nullptr, 0);
    return std::string("cannot start: pidfd_open: ") + std::strerror(errno);
  }
  fcntl(child.stdin_write.fd, F_SETFL, O_NONBLOCK);
  return {};
}

// Writes `input` to the command's stdin and keeps its stderr until it has ended (and its stderr
// is read to the end, or left to whatever inherited it), or until `deadline`. True when it ended.
bool exchange(Child& child, std::string_view input, Clock::time_point deadline, std::string& stderr_text) {
  std::size_t written = 0;
  bool ended = false;
  if (input.empty()) child.stdin_write.reset();
  while (!ended || child.stderr_read.fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return ended;
    pollfd fds[3] = {{child.pidfd.fd, POLLIN, 0}, {child.stderr_read.fd, POLLIN, 0}, {child.stdin_write.fd, POLLOUT, 0}};
    // After the end, only what stderr already holds is read: a background grandchild that keeps
    // stderr open does not hold the job.
    const int timeout = ended ? 0 : static_cast<int>(std::min<long long>(left.count(), 1000));
    if (poll(fds, 3, timeout) < 0 && errno != EINTR) return ended;
    if (fds[0].revents != 0) ended = true;
    if (fds[1].revents != 0) {
      char buffer[4096];
      const ssize_t got = read(child.stderr_read.fd, buffer, sizeof buffer);
      if (got > 0) keep_tail(stderr_text, buffer, static_cast<std::size_t>(got));
      else if (got == 0 || errno != EINTR) child.stderr_read.reset();  // EOF: nothing writes to it any more
    } else if (ended) {
      child.stderr_read.reset();  // ended and nothing more waiting
    }
    if (child.stdin_write.fd >= 0 && fds[2].revents != 0) {
      const ssize_t sent = write(child.stdin_write.fd, input.data() + written, input.size() - written);
      if (sent > 0) written += static_cast<std::size_t>(sent);
      // All written, or the command stopped reading (EPIPE): either way stdin is finished.
      if (written == input.size() || (sent < 0 && errno != EAGAIN && errno != EINTR)) child.stdin_write.reset();
    }
    if (ended) child.stdin_write.reset();
  }
  return true;
}

// Waits on the pidfd up to `limit`; true when the process has ended.
bool wait_for_end(const Child& child, std::chrono::milliseconds limit) {
  pollfd fd{child.pidfd.fd, POLLIN, 0};
  int ready;
  do ready = poll(&fd, 1, static_cast<int>(limit.count()));
  while (ready < 0 && errno == EINTR);
  return ready > 0;
}

// A command past its deadline: its group gets SIGTERM, and SIGKILL after the grace.
void end_group(const Child& child) {
  kill(-child.pid, SIGTERM);
  if (!wait_for_end(child, kill_grace)) {
    kill(-child.pid, SIGKILL);
    wait_for_end(child, std::chrono::hours(1));
  }
}

JobResult result_of(int status, bool timed_out, std::chrono::milliseconds timeout, const std::string& stderr_text) {
  JobResult result;
  result.failure.stderr_tail = last_bytes(stderr_text);
  if (timed_out) {
    result.failure.timed_out = true;
    char text[64];
    std::snprintf(text, sizeof text, "timed out after %.1f s", static_cast<double>(timeout.count()) / 1000.0);
    result.failure.error = text;
  } else if (WIFEXITED(status)) {
    result.failure.exit_code = WEXITSTATUS(status);
    result.succeeded = WEXITSTATUS(status) == 0;
    result.failure.error = "exit code " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    result.failure.signal = WTERMSIG(status);
    result.failure.error = std::string("killed by signal ") + strsignal(WTERMSIG(status));
  }
  return result;
}

}  // namespace

JobResult run_job(const std::string& command, std::string_view input, const std::map<std::string, std::string>& environment,
                  std::chrono::milliseconds timeout) {
  Child child;
  if (const std::string problem = spawn(command, environment, child); !problem.empty()) {
    JobResult result;
    result.failure.error = problem;
    return result;
  }
  std::string stderr_text;
  const bool ended = exchange(child, input, Clock::now() + timeout, stderr_text);
  if (!ended) end_group(child);
  int status = 0;
  while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return result_of(status, !ended, timeout, stderr_text);
}

}  // namespace boardhook::worker
