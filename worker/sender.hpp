// sender.hpp -- how a consumer delivers one event to its route's destination: a command (the
// envelope on stdin) or an HTTP(S) endpoint (a POST of the envelope, signed). One sender per
// consumer: an HTTP sender keeps its connection alive between events.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/dead_letter.hpp"
#include "core/delivery.hpp"
#include "core/envelope.hpp"
#include "core/worker_plan.hpp"

namespace boardhook::worker {

struct Delivery {
  std::string_view event_type;
  const core::EnvelopeSummary& summary;
  std::string_view body;  // what is sent: the envelope as stored
  std::int64_t attempt = 1;
};

// How a delivery ended.
struct DeliveryResult {
  core::DeliveryVerdict verdict = core::DeliveryVerdict::retry;
  std::optional<std::chrono::milliseconds> retry_after;
  bool destination_down = false;  // counts for the destination's circuit
  core::JobFailure failure;       // when it did not succeed
};

struct HttpSettings {
  std::string ca_bundle;    // verify servers against these CAs instead of the system's
  std::string client_cert;  // a client certificate (PEM) and its key, for mutual TLS
  std::string client_key;
  core::RetryStatuses retry_statuses;
  std::optional<core::SigningSecrets> signing;
};

class Sender {
 public:
  virtual ~Sender() = default;
  // Delivers within `timeout` (the whole exchange). Never throws.
  virtual DeliveryResult send(const Delivery& delivery, std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<Sender> make_sender(const core::Destination& destination, const HttpSettings& http);

// libcurl's process-wide set-up; call once before any thread starts.
void init_http();

}  // namespace boardhook::worker
