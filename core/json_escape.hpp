// json_escape.hpp -- append a UTF-8 string to a JSON text as a quoted, escaped JSON string.
#pragma once
#include <string>
#include <string_view>

namespace boardhook::core {

// Appends `"text"` to `out`, escaping quote, backslash and control characters.
// `text` must be valid UTF-8; non-ASCII characters are copied as they are.
void append_json_string(std::string& out, std::string_view text);

std::string json_string(std::string_view text);

}  // namespace boardhook::core
