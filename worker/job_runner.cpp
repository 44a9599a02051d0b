// job_runner.cpp -- posix_spawn with pipes, a poll loop for stdin and stderr, and a deadline.
#include "worker/job_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace boardhook::worker {

namespace {

// How much of the command's stderr is kept for the log and the dead-letter record.
constexpr std::size_t stderr_tail_bytes = 4096;
constexpr std::chrono::seconds kill_grace{5};

struct Pipe {
  int read = -1, write = -1;
  ~Pipe() {
    if (read >= 0) close(read);
    if (write >= 0) close(write);
  }
};

bool make_pipe(Pipe& pipe_fds) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  pipe_fds.read = fds[0];
  pipe_fds.write = fds[1];
  return true;
}

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

// Waits for `pid` up to `limit`; true (with `status`) when it exited.
bool wait_for_exit(pid_t pid, int& status, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return true;
    if (done < 0 && errno != EINTR) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

JobResult run_job(const std::string& command, std::string_view input, const std::map<std::string, std::string>& environment,
                  std::chrono::milliseconds timeout) {
  JobResult result;
  Pipe stdin_pipe, stderr_pipe;
  if (!make_pipe(stdin_pipe) || !make_pipe(stderr_pipe)) {
    result.failure.error = std::string("cannot start: pipe: ") + std::strerror(errno);
    return result;
  }

  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string name(text.substr(0, text.find('=')));
    if (environment.count(name) == 0) env_strings.emplace_back(text);
  }
  for (const auto& [name, value] : environment) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_pipe.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_pipe.write, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so a timeout ends the command's children too; default signal
  // handling and an empty mask, not the worker's (which blocks SIGTERM for sigwait).
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string shell_command = command;
  char shell[] = "/bin/sh", dash_c[] = "-c";
  char* argv[] = {shell, dash_c, shell_command.data(), nullptr};
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawn_error != 0) {
    result.failure.error = std::string("cannot start: ") + std::strerror(spawn_error);
    return result;
  }
  close(stdin_pipe.read);
  stdin_pipe.read = -1;
  close(stderr_pipe.write);
  stderr_pipe.write = -1;
  fcntl(stdin_pipe.write, F_SETFL, O_NONBLOCK);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  std::string stderr_text;
  bool timed_out = false;
  if (input.empty()) {
    close(stdin_pipe.write);
    stdin_pipe.write = -1;
  }
  while (stderr_pipe.read >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{stderr_pipe.read, POLLIN, 0}, {stdin_pipe.write, POLLOUT, 0}};
    const int count = poll(fds, stdin_pipe.write >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (count < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) {
      char buffer[4096];
      const ssize_t got = read(stderr_pipe.read, buffer, sizeof buffer);
      if (got > 0) keep_tail(stderr_text, buffer, static_cast<std::size_t>(got));
      else if (got == 0 || errno != EINTR) {
        close(stderr_pipe.read);  // EOF: the command (and whatever inherited stderr) is done
        stderr_pipe.read = -1;
      }
    }
    if (stdin_pipe.write >= 0 && fds[1].revents != 0) {
      const ssize_t sent = write(stdin_pipe.write, input.data() + written, input.size() - written);
      if (sent > 0) written += static_cast<std::size_t>(sent);
      // All written, or the command stopped reading (EPIPE): either way stdin is finished.
      if (written == input.size() || (sent < 0 && errno != EAGAIN && errno != EINTR)) {
        close(stdin_pipe.write);
        stdin_pipe.write = -1;
      }
    }
  }

  if (stdin_pipe.write >= 0) {  // stderr closed first: do not leave the command waiting for more input
    close(stdin_pipe.write);
    stdin_pipe.write = -1;
  }
  int status = 0;
  if (!timed_out) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    timed_out = !wait_for_exit(pid, status, std::max(left, std::chrono::milliseconds(1)));
  }
  if (timed_out) {
    kill(-pid, SIGTERM);
    if (!wait_for_exit(pid, status, kill_grace)) {
      kill(-pid, SIGKILL);
      wait_for_exit(pid, status, std::chrono::hours(1));
    }
  }

  result.failure.stderr_tail = last_bytes(stderr_text);
  if (timed_out) {
    result.failure.timed_out = true;
    char text[64];
    std::snprintf(text, sizeof text, "timed out after %.1f s", static_cast<double>(timeout.count()) / 1000.0);
    result.failure.error = text;
    return result;
  }
  if (WIFEXITED(status)) {
    result.failure.exit_code = WEXITSTATUS(status);
    result.succeeded = WEXITSTATUS(status) == 0;
    result.failure.error = "exit code " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    result.failure.signal = WTERMSIG(status);
    result.failure.error = std::string("killed by signal ") + strsignal(WTERMSIG(status));
  }
  return result;
}

}  // namespace boardhook::worker
