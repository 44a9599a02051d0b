// base64.hpp -- standard base64 (RFC 4648, with padding) for keeping non-UTF-8 bodies in JSON.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

std::string base64_encode(std::string_view bytes);

// Decodes padded standard base64; nullopt on any other character or a bad length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace boardhook::core
