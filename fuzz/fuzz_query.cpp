// fuzz_query.cpp -- libFuzzer target: the query string decoder (url_decode, find_query_param).
//
// Input: NAME '\n' QUERY, or only QUERY (then NAME is "challenge"). Checks, besides memory safety:
// decoding never lengthens its input, percent- and form-encoding round-trip through url_decode,
// and a parameter added at either end of any query is found there, counted once more.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"
#include "core/query.hpp"

using namespace boardhook::core;

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

// Every byte as %XX: the one encoding whose decoding is unambiguous whatever the bytes.
std::string percent_encode_all(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += hex_digits[byte >> 4];
    out += hex_digits[byte & 0xF];
  }
  return out;
}

// Form encoding as a browser does it: unreserved bytes kept, space as '+', the rest %XX.
std::string form_encode(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += percent_encode_all(std::string_view(&c, 1));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const std::string decoded = url_decode(input);
  FUZZ_CHECK(decoded.size() <= input.size());
  if (input.find_first_of("%+") == std::string_view::npos) FUZZ_CHECK(decoded == input);
  FUZZ_CHECK(url_decode(percent_encode_all(input)) == input);
  FUZZ_CHECK(url_decode(form_encode(input)) == input);

  const std::size_t newline = input.find('\n');
  const std::string_view name = newline == std::string_view::npos ? std::string_view("challenge") : input.substr(0, newline);
  const std::string_view query = newline == std::string_view::npos ? input : input.substr(newline + 1);

  const QueryParam found = find_query_param(query, name);
  FUZZ_CHECK(found.is_present() || found.value.empty());
  FUZZ_CHECK(found.is_repeated() == (found.occurrences > 1));
  FUZZ_CHECK(found.value.size() <= query.size());
  std::size_t pairs = 1;
  for (const char c : query) pairs += c == '&' ? 1 : 0;
  FUZZ_CHECK(found.occurrences <= pairs);

  // The same parameter, encoded, put first and last among the others ("in any order").
  const std::string value = "v=" + std::string(query.substr(0, 16)) + "&x";
  const std::string pair = percent_encode_all(name) + "=" + form_encode(value);
  const QueryParam first = find_query_param(pair + "&" + std::string(query), name);
  FUZZ_CHECK(first.occurrences == found.occurrences + 1);
  FUZZ_CHECK(first.value == value);
  const QueryParam last = find_query_param(std::string(query) + "&" + pair, name);
  FUZZ_CHECK(last.occurrences == found.occurrences + 1);
  FUZZ_CHECK(last.value == (found.is_present() ? found.value : value));
  return 0;
}
