// encoding.hpp -- standard base64 (RFC 4648, padded) through libcrypto, for keeping non-UTF-8 bodies in JSON.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

std::string base64_encode(std::string_view bytes);

// Decodes padded standard base64 and nothing else: nullopt on a bad length, a character outside
// the alphabet (blanks and line breaks included), or '=' anywhere but the last one or two places.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace boardhook::core
