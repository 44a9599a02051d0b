// base64.hpp -- standard base64 (RFC 4648, with padding) for keeping non-UTF-8 bodies in JSON.
#pragma once
#include <string>
#include <string_view>

namespace boardhook::core {

std::string base64_encode(std::string_view bytes);

}  // namespace boardhook::core
