// supervisor.hpp -- --processes N: fork N handler processes on one socket, keep them running.
#pragma once
#include <functional>

namespace boardhook::handler {

// Forks `processes` children that each run `child_main` (and exit with its result). A child
// that dies is restarted (at most once a second per slot, so a crash loop does not spin).
// SIGTERM/SIGINT are passed to the children, which drain; SIGHUP is passed on too. Returns
// 0 when every child stopped cleanly after a stop signal, 1 otherwise. The caller blocks
// SIGTERM, SIGINT, SIGHUP and SIGCHLD before calling (children inherit that mask).
int supervise(int processes, const std::function<int()>& child_main);

}  // namespace boardhook::handler
