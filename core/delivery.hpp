// delivery.hpp -- what an HTTP destination's answer means for the event, and the Standard Webhooks
// signature of what is sent. Pure: the worker's HTTP edge (worker/http_destination.cpp) sends.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

// Which answers are worth retrying; the rest of the non-2xx answers make a dead letter at once.
// Written "408,429,500-599" (the default).
struct RetryStatuses {
  std::vector<std::pair<int, int>> ranges;
  bool retries(int status) const;
};
std::optional<RetryStatuses> parse_retry_statuses(std::string_view text, std::string& error);
inline constexpr std::string_view default_retry_statuses = "408,429,500-599";

enum class DeliveryVerdict { acknowledge, retry, dead };

struct DeliveryOutcome {
  DeliveryVerdict verdict = DeliveryVerdict::retry;
  std::optional<std::chrono::milliseconds> retry_after;  // from a Retry-After header
  bool destination_down = false;  // a failure that says the destination is down (counts for its circuit)
  std::string error;              // "HTTP 404: <first bytes>", "connect: Connection refused", ...
};

// The outcome of an exchange: `status` 0 when there was no answer (then `transport_error` says
// why: a timeout, a refused connection). `retry_after` is the header's value ("120" or an
// HTTP-date), `now_unix_seconds` the time for a date. `body_head` is the answer's first bytes.
DeliveryOutcome judge_answer(int status, std::string_view transport_error, std::string_view retry_after,
                             std::string_view body_head, std::int64_t now_unix_seconds, const RetryStatuses& statuses);

// Standard Webhooks (standardwebhooks.com): the secrets (whsec_<base64>, one per line or comma;
// two during a rotation) and the webhook-signature header for a message: "v1,<base64 HMAC-SHA256
// of id.timestamp.body>" for each secret, separated by spaces.
struct SigningSecrets {
  std::vector<std::string> keys;  // decoded
};
std::optional<SigningSecrets> parse_signing_secrets(std::string_view text, std::string& error);
std::string webhook_signature(const SigningSecrets& secrets, std::string_view id, std::int64_t timestamp, std::string_view body);

}  // namespace boardhook::core
