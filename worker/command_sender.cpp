// command_sender.cpp -- a command per event: /bin/sh -c, the envelope on stdin, the event in its
// environment (job_runner.cpp runs it).
#include <map>

#include "worker/job_runner.hpp"
#include "worker/sender.hpp"

namespace boardhook::worker {

namespace {

constexpr int temporary_failure_exit_code = 75;

class CommandSender : public Sender {
 public:
  explicit CommandSender(std::string command) : command_(std::move(command)) {}

  DeliveryResult send(const Delivery& delivery, std::chrono::milliseconds timeout) override {
    const std::map<std::string, std::string> environment = {
        {"BOARDHOOK_EVENT_TYPE", std::string(delivery.event_type)},
        {"BOARDHOOK_EVENT_ID", delivery.summary.id},
        {"BOARDHOOK_ATTEMPT", std::to_string(delivery.attempt)},
        {"BOARDHOOK_TICKET_ID", delivery.summary.ticket_id.value_or("")},
        {"BOARDHOOK_DELIVERY", delivery.summary.delivery},
    };
    JobResult job = run_job(command_, delivery.body, environment, timeout);
    DeliveryResult result;
    result.verdict = job.succeeded ? core::DeliveryVerdict::acknowledge : core::DeliveryVerdict::retry;
    // Exit 75 (EX_TEMPFAIL in sysexits.h) says "what I deliver to is down, try later": it counts
    // for the command's circuit. Any other failure is the event's, retried and dead-lettered.
    result.destination_down = !job.succeeded && job.failure.exit_code == temporary_failure_exit_code;
    result.failure = std::move(job.failure);
    return result;
  }

 private:
  std::string command_;
};

}  // namespace

std::unique_ptr<Sender> make_command_sender(const std::string& command) { return std::make_unique<CommandSender>(command); }

}  // namespace boardhook::worker
