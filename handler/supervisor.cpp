// supervisor.cpp -- a small prefork supervisor: fork, reap, restart, forward signals.
#include "handler/supervisor.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

namespace boardhook::handler {

namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  Clock::time_point started{};
  Clock::time_point restart_at{};  // when a dead slot may be started again
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

int supervise(int processes, const std::function<int()>& child_main) {
  std::vector<Child> children(static_cast<std::size_t>(processes));
  const auto start = [&](Child& child) {
    const pid_t pid = fork();
    if (pid == 0) {
      spdlog::default_logger()->flush();
      _exit(child_main());
    }
    if (pid < 0) {
      spdlog::error("fork failed: \"{}\"; retrying in 1 s", std::strerror(errno));
      child.restart_at = Clock::now() + std::chrono::seconds(1);
      return;
    }
    child.pid = pid;
    child.started = Clock::now();
  };
  for (Child& child : children) start(child);
  spdlog::info("supervisor {}: {} handler process(es) started", getpid(), processes);

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
  bool stopping = false;
  bool clean = true;
  for (;;) {
    timespec tick{0, 200'000'000};
    const int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      if (!stopping) spdlog::info("supervisor: {} received; stopping the handler processes", strsignal(signal_number));
      stopping = true;
      for (const Child& child : children) {
        if (child.pid > 0) kill(child.pid, SIGTERM);
      }
    } else if (signal_number == SIGHUP) {
      for (const Child& child : children) {
        if (child.pid > 0) kill(child.pid, SIGHUP);
      }
    }
    // Reap whatever has ended, whether or not SIGCHLD was the signal that woke us.
    for (;;) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      for (Child& child : children) {
        if (child.pid != pid) continue;
        child.pid = -1;
        const bool expected = stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!expected) {
          clean = false;
          if (stopping) spdlog::error("handler process {} {} while stopping", pid, describe_status(status));
        }
        if (!stopping) {
          const bool crash_loop = Clock::now() - child.started < std::chrono::seconds(1);
          spdlog::error("handler process {} {}; restarting it{}", pid, describe_status(status), crash_loop ? " in 1 s" : "");
          child.restart_at = crash_loop ? Clock::now() + std::chrono::seconds(1) : Clock::now();
          clean = true;  // a restart is recovery, not a failed stop
        }
      }
    }
    bool any_running = false;
    for (Child& child : children) {
      if (child.pid < 0 && !stopping && Clock::now() >= child.restart_at) start(child);
      any_running |= child.pid > 0;
    }
    if (stopping && !any_running) {
      spdlog::info("supervisor: every handler process has stopped");
      return clean ? 0 : 1;
    }
  }
}

}  // namespace boardhook::handler
