// constant_time.cpp -- secret comparison in constant time.
#include "core/constant_time.hpp"

namespace boardhook::core {

bool constant_time_equals(std::string_view offered, std::string_view secret) {
  if (secret.empty()) return false;
  // Fold every byte of `offered` against the secret (cycled), so the loop length is
  // the attacker's own input length and no early exit reveals a matching prefix.
  unsigned difference = offered.size() != secret.size() ? 1u : 0u;
  for (std::size_t i = 0; i < offered.size(); ++i) {
    const auto a = static_cast<unsigned char>(offered[i]);
    const auto b = static_cast<unsigned char>(secret[i % secret.size()]);
    difference |= static_cast<unsigned>(a ^ b);
  }
  // Read through a volatile so the compiler cannot turn the fold into an early exit.
  volatile unsigned result = difference;
  return result == 0;
}

bool matches_any_secret(std::string_view offered, const std::vector<std::string>& secrets) {
  bool matched = false;
  for (const auto& secret : secrets) matched |= constant_time_equals(offered, secret);
  return matched;
}

}  // namespace boardhook::core
