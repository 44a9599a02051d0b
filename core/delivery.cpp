// delivery.cpp -- HTTP answers judged, and Standard Webhooks signatures.
#include "core/delivery.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "core/encoding.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

namespace {

std::optional<int> number(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n')) text.remove_suffix(1);
  return text;
}

// Retry-After: delay-seconds, or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT").
std::optional<std::chrono::milliseconds> retry_after_of(std::string_view value, std::int64_t now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (const auto seconds = number(value); seconds && *seconds >= 0) return std::chrono::seconds(*seconds);
  std::tm tm{};
  std::istringstream in{std::string(value)};
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail()) return std::nullopt;
  const std::chrono::year_month_day day{std::chrono::year(tm.tm_year + 1900), std::chrono::month(static_cast<unsigned>(tm.tm_mon + 1)),
                                        std::chrono::day(static_cast<unsigned>(tm.tm_mday))};
  if (!day.ok()) return std::nullopt;
  const std::int64_t at = std::chrono::sys_days(day).time_since_epoch() / std::chrono::seconds(1) + tm.tm_hour * 3600 +
                          tm.tm_min * 60 + tm.tm_sec;
  return std::chrono::seconds(std::max<std::int64_t>(0, at - now));
}

std::string printable_head(std::string_view body) {
  const std::size_t cut = utf8_prefix_length(body, 200);
  std::string head(body.substr(0, cut));
  if (!is_valid_utf8(head)) head = "(" + std::to_string(body.size()) + " bytes, not UTF-8)";
  return head;
}

}  // namespace

bool RetryStatuses::retries(int status) const {
  return std::any_of(ranges.begin(), ranges.end(), [status](const auto& r) { return status >= r.first && status <= r.second; });
}

std::optional<RetryStatuses> parse_retry_statuses(std::string_view text, std::string& error) {
  RetryStatuses statuses;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const std::size_t dash = item.find('-');
    const auto low = number(item.substr(0, dash));
    const auto high = dash == std::string_view::npos ? low : number(item.substr(dash + 1));
    if (!low || !high || *low < 100 || *high > 599 || *low > *high) {
      error = "\"" + std::string(item) + "\" is not a status or a range of statuses (100-599)";
      return std::nullopt;
    }
    statuses.ranges.emplace_back(*low, *high);
  }
  return statuses;
}

DeliveryOutcome judge_answer(int status, std::string_view transport_error, std::string_view retry_after,
                             std::string_view body_head, std::int64_t now_unix_seconds, const RetryStatuses& statuses) {
  DeliveryOutcome outcome;
  if (status == 0) {
    outcome.verdict = DeliveryVerdict::retry;
    outcome.destination_down = true;
    outcome.error = std::string(transport_error);
    return outcome;
  }
  if (status >= 200 && status <= 299) {
    outcome.verdict = DeliveryVerdict::acknowledge;
    return outcome;
  }
  outcome.error = "HTTP " + std::to_string(status) + (body_head.empty() ? "" : ": " + printable_head(body_head));
  if (statuses.retries(status)) {
    outcome.verdict = DeliveryVerdict::retry;
    outcome.retry_after = retry_after_of(retry_after, now_unix_seconds);
    outcome.destination_down = true;
  } else {
    outcome.verdict = DeliveryVerdict::dead;
  }
  return outcome;
}

std::optional<SigningSecrets> parse_signing_secrets(std::string_view text, std::string& error) {
  SigningSecrets secrets;
  while (!text.empty()) {
    const std::size_t end = text.find_first_of(",\n");
    const std::string_view item = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (item.empty()) continue;
    if (!item.starts_with("whsec_")) {
      error = "a signing secret starts with whsec_ (Standard Webhooks)";
      return std::nullopt;
    }
    auto key = base64_decode(item.substr(6));
    if (!key || key->size() < 16) {
      error = "a signing secret is whsec_ and the base64 of at least 16 bytes";
      return std::nullopt;
    }
    secrets.keys.push_back(std::move(*key));
  }
  if (secrets.keys.empty()) {
    error = "holds no secret";
    return std::nullopt;
  }
  return secrets;
}

std::string webhook_signature(const SigningSecrets& secrets, std::string_view id, std::int64_t timestamp, std::string_view body) {
  const std::string signed_content = std::string(id) + "." + std::to_string(timestamp) + "." + std::string(body);
  std::string header;
  for (const std::string& key : secrets.keys) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(signed_content.data()),
         signed_content.size(), mac, &length);
    if (!header.empty()) header += ' ';
    header += "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(mac), length));
  }
  return header;
}

}  // namespace boardhook::core
