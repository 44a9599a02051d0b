// json_equal.hpp -- JSON value equality for the fuzz targets' cross-checks; doubles within 2 ulps.
#pragma once
#include <boost/json.hpp>
#include <cmath>

namespace boardhook::fuzz {

// True when `a` and `b` are the same JSON value. Doubles may differ by 2 units in the last place:
// Boost.JSON 1.81 parses the same number text 1 ulp apart in different surroundings (the item
// alone or within the whole body; found by fuzz_notification), and reads `0e309551615` as NaN.
// Neither is boardhook's concern: events travel as their raw bytes, and only integers are read.
inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.kind() != b.kind()) return false;
  if (a.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
    return x == y || std::nextafter(std::nextafter(x, y), y) == y;
  }
  if (a.is_array()) {
    const auto &left = a.get_array(), &right = b.get_array();
    if (left.size() != right.size()) return false;
    for (std::size_t i = 0; i < left.size(); ++i) {
      if (!same_json(left[i], right[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto &left = a.get_object(), &right = b.get_object();
    if (left.size() != right.size()) return false;
    for (const auto& member : left) {
      const boost::json::value* other = right.if_contains(member.key());
      if (other == nullptr || !same_json(member.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace boardhook::fuzz
