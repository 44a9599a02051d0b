// supervisor.cpp -- a small prefork supervisor: fork, reap, restart, forward signals.
#include "handler/supervisor.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
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

// The handler processes of one supervisor, each in its slot.
struct Children {
  std::vector<Child> slots;
  const std::function<int()>& child_main;
  bool stopping = false;
  bool clean = true;  // no process ended badly while stopping

  void start(Child& child) {
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
  }

  void signal_all(int signal_number) const {
    for (const Child& child : slots) {
      if (child.pid > 0) kill(child.pid, signal_number);
    }
  }

  // A child ended: expected while stopping, else restarted (after 1 s when it lived less).
  void ended(Child& child, pid_t pid, int status) {
    child.pid = -1;
    const bool expected = stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!expected && stopping) {
      clean = false;
      spdlog::error("handler process {} {} while stopping", pid, describe_status(status));
    }
    if (stopping) return;
    const bool crash_loop = Clock::now() - child.started < std::chrono::seconds(1);
    spdlog::error("handler process {} {}; restarting it{}", pid, describe_status(status), crash_loop ? " in 1 s" : "");
    child.restart_at = crash_loop ? Clock::now() + std::chrono::seconds(1) : Clock::now();
  }

  // Reaps whatever has ended, whether or not SIGCHLD was the signal that woke us.
  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      for (Child& child : slots) {
        if (child.pid == pid) ended(child, pid, status);
      }
    }
  }

  // Restarts what is due; true while any process runs.
  bool restart_due() {
    bool any_running = false;
    for (Child& child : slots) {
      if (child.pid < 0 && !stopping && Clock::now() >= child.restart_at) start(child);
      any_running |= child.pid > 0;
    }
    return any_running;
  }
};

}  // namespace

int supervise(int processes, const std::function<int()>& child_main) {
  Children children{std::vector<Child>(static_cast<std::size_t>(processes)), child_main};
  for (Child& child : children.slots) children.start(child);
  spdlog::info("supervisor {}: {} handler process(es) started", getpid(), processes);

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
  for (;;) {
    timespec tick{0, 200'000'000};
    const int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      if (!children.stopping) spdlog::info("supervisor: {} received; stopping the handler processes", strsignal(signal_number));
      children.stopping = true;
      children.signal_all(SIGTERM);
    } else if (signal_number == SIGHUP) {
      children.signal_all(SIGHUP);
    }
    children.reap();
    if (!children.restart_due() && children.stopping) {
      spdlog::info("supervisor: every handler process has stopped");
      return children.clean ? 0 : 1;
    }
  }
}

}  // namespace boardhook::handler
