// query.hpp -- look up URL query parameters the way a form-encoded query string means them.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace boardhook::core {

// Decodes application/x-www-form-urlencoded text: '+' is a space, %XX is a byte.
// A '%' not followed by two hex digits is kept as it is.
std::string url_decode(std::string_view text);

struct QueryParam {
  std::size_t occurrences = 0;  // how many times the (decoded) name appears
  std::string value;            // decoded value of the first occurrence ("" when absent)

  bool is_present() const { return occurrences > 0; }
  bool is_repeated() const { return occurrences > 1; }
};

// Finds `name` among all parameters of `query` (no leading '?'), comparing decoded names
// exactly, in any order and among any others; "a&b=1&&c" style quirks are tolerated.
QueryParam find_query_param(std::string_view query, std::string_view name);

}  // namespace boardhook::core
