// http_sender.cpp -- an HTTP(S) POST per event with libcurl: the envelope byte for byte, the
// Standard Webhooks headers, TLS verified by default, the connection kept alive per consumer.
#include <curl/curl.h>

#include <chrono>
#include <memory>

#include "core/delivery.hpp"
#include "worker/sender.hpp"

namespace boardhook::worker {

std::unique_ptr<Sender> make_command_sender(const std::string& command);

namespace {

// The answer's first bytes are kept for the dead letter and the log; the rest is read and dropped.
constexpr std::size_t kept_answer_bytes = 512;

struct Answer {
  std::string head;
  std::string retry_after;
};

std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* answer = static_cast<Answer*>(user);
  const std::size_t bytes = size * count;
  if (answer->head.size() < kept_answer_bytes) answer->head.append(data, std::min(bytes, kept_answer_bytes - answer->head.size()));
  return bytes;
}

std::size_t keep_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* answer = static_cast<Answer*>(user);
  const std::string_view line(data, size * count);
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size()) {
    bool matches = true;
    for (std::size_t i = 0; i < name.size() && matches; ++i) matches = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    if (matches) answer->retry_after = std::string(line.substr(name.size()));
  }
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

class HttpSender : public Sender {
 public:
  HttpSender(std::string url, const HttpSettings& settings) : url_(std::move(url)), settings_(settings), curl_(curl_easy_init()) {}

  DeliveryResult send(const Delivery& delivery, std::chrono::milliseconds timeout) override {
    DeliveryResult result;
    if (!curl_) {
      result.failure.error = "cannot start: libcurl could not make a handle";
      result.destination_down = true;
      return result;
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::unique_ptr<curl_slist, ListDeleter> headers(nullptr);
    const auto add = [&headers](const std::string& header) { headers.reset(curl_slist_append(headers.release(), header.c_str())); };
    add("Content-Type: application/json");
    add("Expect:");  // no 100-continue round trip
    add("webhook-id: " + delivery.summary.id);
    add("webhook-timestamp: " + std::to_string(now));
    if (settings_.signing) add("webhook-signature: " + core::webhook_signature(*settings_.signing, delivery.summary.id, now, delivery.body));
    // Header names with '_' are dropped by nginx and others by default: these use '-'.
    add("Boardhook-Attempt: " + std::to_string(delivery.attempt));
    add("Boardhook-Event-Type: " + std::string(delivery.event_type));
    add("Boardhook-Delivery: " + delivery.summary.delivery);

    Answer answer;
    CURL* curl = curl_.get();
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, delivery.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(delivery.body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long long>(timeout.count(), 10'000)));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "boardhook-worker");
    if (!settings_.ca_bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca_bundle.c_str());
    if (!settings_.client_cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, settings_.client_cert.c_str());
    if (!settings_.client_key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, settings_.client_key.c_str());
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    const std::string transport = code == CURLE_OK ? "" : std::string(curl_easy_strerror(code)) + (error[0] ? ": " + std::string(error) : "");
    const core::DeliveryOutcome outcome =
        core::judge_answer(static_cast<int>(status), transport, answer.retry_after, answer.head, now, settings_.retry_statuses);
    result.verdict = outcome.verdict;
    result.retry_after = outcome.retry_after;
    result.destination_down = outcome.destination_down;
    result.failure.error = outcome.error;
    result.failure.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    if (status != 0) result.failure.http_status = static_cast<int>(status);
    if (outcome.verdict != core::DeliveryVerdict::acknowledge) result.failure.stderr_tail = answer.head;
    return result;
  }

 private:
  std::string url_;
  const HttpSettings& settings_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
};

}  // namespace

std::unique_ptr<Sender> make_sender(const core::Destination& destination, const HttpSettings& http) {
  if (destination.kind == core::Destination::Kind::http) return std::make_unique<HttpSender>(destination.target, http);
  return make_command_sender(destination.target);
}

void init_http() { curl_global_init(CURL_GLOBAL_DEFAULT); }

}  // namespace boardhook::worker
