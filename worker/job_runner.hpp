// job_runner.hpp -- run one shell command for one event: envelope on stdin, a timeout, stderr kept.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "core/dead_letter.hpp"

namespace boardhook::worker {

struct JobResult {
  bool succeeded = false;    // exited 0 within the timeout
  core::JobFailure failure;  // filled when it did not
};

// Runs `/bin/sh -c command` in its own process group with `input` on stdin and `environment`
// added to ours. On timeout the group gets SIGTERM, and SIGKILL 5 s later. Never throws.
JobResult run_job(const std::string& command, std::string_view input, const std::map<std::string, std::string>& environment,
                  std::chrono::milliseconds timeout);

}  // namespace boardhook::worker
