// utf8.hpp -- strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once
#include <string_view>

namespace boardhook::core {

// True when every byte of `text` belongs to a well-formed UTF-8 sequence.
bool is_valid_utf8(std::string_view text);

// Length of the longest prefix of `text`, at most `limit` bytes, that does not end
// inside a multi-byte sequence. Used to cut kept bodies without splitting a character.
std::size_t utf8_prefix_length(std::string_view text, std::size_t limit);

}  // namespace boardhook::core
