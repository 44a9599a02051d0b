// json_spans.hpp -- find the raw bytes of top-level members and array items in a JSON text.
//
// Boost.JSON gives values, not their source bytes; the envelope must carry each event
// exactly as it was received, so this scanner locates those bytes. It is only ever run on
// text that Boost.JSON has already accepted: it checks structure, not grammar, so on text
// that is not JSON it may return nullopt or spans of no meaning, but it never reads out of
// bounds and never crashes, whatever the input.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

struct JsonMember {
  std::string key;         // decoded (escapes resolved)
  std::string_view value;  // the raw bytes of the value, without surrounding whitespace
};

// The members of the top-level object of `json`, in document order (duplicates kept).
// std::nullopt when the top level is not an object or its structure is broken.
std::optional<std::vector<JsonMember>> top_level_members(std::string_view json);

// What top_level_members and array_items give, found in one pass over the text: the members
// of the top-level object, and the items of the first member keyed `array_key` (after
// decoding) whose value is an array. A notification is nearly all its Events
// array, so locating the members and then the items scanned it twice.
struct MembersWithItems {
  std::vector<JsonMember> members;
  std::optional<std::vector<std::string_view>> items;  // nullopt: no member keyed `array_key` is an array
};
// std::nullopt when the top level is not an object or the structure of the object or of
// that array is broken.
std::optional<MembersWithItems> top_level_members_with_items(std::string_view json, std::string_view array_key);

// The raw bytes of each item of the JSON array `array_text`, in order.
// std::nullopt when `array_text` is not an array or its structure is broken.
std::optional<std::vector<std::string_view>> array_items(std::string_view array_text);

}  // namespace boardhook::core
