// encoding.cpp -- base64 through libcrypto's EVP_EncodeBlock and EVP_DecodeBlock.
#include "core/encoding.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace boardhook::core {

namespace {

// EVP_*Block take an int length: longer input goes through in pieces of whole 3-byte groups
// (encoding) or 4-character groups (decoding), which concatenate to the same text.
constexpr std::size_t piece_bytes = 3 << 24;
constexpr std::size_t piece_chars = 4 << 24;

bool is_base64_digit(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + the NUL EVP_EncodeBlock writes
  std::size_t written = 0;
  for (std::size_t at = 0; at < bytes.size(); at += piece_bytes) {
    const std::size_t size = std::min(piece_bytes, bytes.size() - at);
    written += static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                                                        reinterpret_cast<const unsigned char*>(bytes.data() + at),
                                                        static_cast<int>(size)));
  }
  out.resize(written);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock is lenient where this format is not: it skips blanks and line breaks at both
  // ends of what it is given, and reads '=' anywhere as zero bits (returning those bytes too). So
  // the padding and the ends of each piece are checked here; it refuses other characters itself.
  if (text.size() % 4 != 0) return std::nullopt;
  const std::size_t last_digit = text.find_last_not_of('=');
  const std::size_t data_chars = last_digit == std::string_view::npos ? 0 : last_digit + 1;
  const std::size_t padding = text.size() - data_chars;
  if (padding > 2 || text.find('=') < data_chars) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  std::size_t written = 0;
  for (std::size_t at = 0; at < text.size(); at += piece_chars) {
    const std::size_t size = std::min(piece_chars, text.size() - at);
    const std::size_t digits = std::min(size, data_chars - at);  // at least 2: padding is at most 2 of 4
    if (!is_base64_digit(text[at]) || !is_base64_digit(text[at + digits - 1])) return std::nullopt;
    const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                                        reinterpret_cast<const unsigned char*>(text.data() + at), static_cast<int>(size));
    if (decoded < 0) return std::nullopt;
    written += static_cast<std::size_t>(decoded);
  }
  out.resize(written - padding);
  return out;
}

}  // namespace boardhook::core
