// utf8.hpp -- strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once
#include <string_view>

namespace boardhook::core {

// True when every byte of `text` belongs to a well-formed UTF-8 sequence.
bool is_valid_utf8(std::string_view text);

// Length of the longest prefix of `text`, at most `limit` bytes, that does not end
// inside a multi-byte sequence. Used to cut kept bodies without splitting a character.
std::size_t utf8_prefix_length(std::string_view text, std::size_t limit);

// True when `text` is valid UTF-8 and holds no control character: none of C0 (U+0000-U+001F),
// DEL (U+007F) or C1 (U+0080-U+009F). Such text is safe to echo in a text/plain body.
bool is_printable_utf8(std::string_view text);

}  // namespace boardhook::core
