// constant_time.hpp -- secret comparison whose duration does not depend on where inputs differ.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

// True when `offered` equals `secret`. Time depends only on the length of `offered`,
// never on the content of either or on the position of the first difference.
// An empty secret never matches.
bool constant_time_equals(std::string_view offered, std::string_view secret);

// True when `offered` equals any of `secrets`; every secret is compared, always.
bool matches_any_secret(std::string_view offered, const std::vector<std::string>& secrets);

}  // namespace boardhook::core
