// json_spans.cpp -- a bounds-checked skipping scanner over already-validated JSON text.
#include "core/json_spans.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

namespace boardhook::core {

namespace {

static_assert(std::endian::native == std::endian::little, "first_stop reads the first byte in the low bits");

// Sixteen bytes of text compared at once, with GCC's and Clang's vector extensions: SSE2 or
// NEON where there is one, plain integer code elsewhere. A comparison sets a lane to all ones.
using Block = signed char __attribute__((vector_size(16)));
constexpr std::size_t block_size = sizeof(Block);

// The bytes that end a run inside a string: its closing quote or an escape.
Block string_stops(Block text) { return (text == '"') | (text == '\\'); }

// The bytes that matter when skipping a container: a string's opening quote, an opening or
// closing bracket. Setting 0x20 folds '[' onto '{' and ']' onto '}' and no other byte onto either.
Block structure_stops(Block text) {
  const Block folded = text | 0x20;
  return (text == '"') | (folded == '{') | (folded == '}');
}

// Index of the first lane of `stops` that is set, or block_size.
std::size_t first_stop(Block stops) {
  std::uint64_t low, high;
  std::memcpy(&low, &stops, sizeof low);
  std::memcpy(&high, reinterpret_cast<const char*>(&stops) + sizeof low, sizeof high);
  if (low != 0) return static_cast<std::size_t>(std::countr_zero(low)) / 8;
  if (high != 0) return sizeof low + static_cast<std::size_t>(std::countr_zero(high)) / 8;
  return block_size;
}

// Index of the first byte at or after `i` that `stops` reports, or s.size(). A block at a time;
// the last few bytes are copied into a zeroed block, where a stop found past them means none.
template <Block (*stops)(Block)>
std::size_t find_stop(std::string_view s, std::size_t i) {
  if (i >= s.size()) return s.size();  // an escape's backslash may be the last byte
  Block text;
  for (; s.size() - i >= block_size; i += block_size) {
    std::memcpy(&text, s.data() + i, block_size);
    if (const std::size_t stop = first_stop(stops(text)); stop != block_size) return i + stop;
  }
  text = Block{};
  std::memcpy(&text, s.data() + i, s.size() - i);
  return std::min(s.size(), i + first_stop(stops(text)));
}

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_json_space(s[i])) ++i;
  return i;
}

// `i` at an opening quote; returns the index just past the closing quote, or npos.
// A backslash escapes the byte after it, whatever that is.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (i = find_stop<string_stops>(s, i + 1); i < s.size(); i = find_stop<string_stops>(s, i + 2)) {
    if (s[i] == '"') return i + 1;
  }
  return std::string_view::npos;
}

// `i` at the first byte of a value; returns the index just past it, or npos.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    // Brackets are counted, not matched: the text is already known to be JSON.
    std::size_t depth = 0;
    for (i = find_stop<structure_stops>(s, i); i < s.size(); i = find_stop<structure_stops>(s, i)) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (--depth == 0) {  // a closing bracket, the only other stop
        return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  // Number or literal: runs to the next delimiter.
  const std::size_t start = i;
  while (i < s.size() && !is_json_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i == start ? std::string_view::npos : i;
}

// `i` at the '[' of an array; appends the bytes of each item to `items` and returns the index
// just past the closing ']', or npos when the array's structure is broken.
std::size_t scan_array(std::string_view s, std::size_t i, std::vector<std::string_view>& items) {
  i = skip_space(s, i + 1);
  if (i < s.size() && s[i] == ']') return i + 1;
  while (i < s.size()) {
    const std::size_t value_end = skip_value(s, i);
    if (value_end == std::string_view::npos) return value_end;
    items.push_back(s.substr(i, value_end - i));
    i = skip_space(s, value_end);
    if (i < s.size() && s[i] == ',') {
      i = skip_space(s, i + 1);
      continue;
    }
    if (i < s.size() && s[i] == ']') return i + 1;
    return std::string_view::npos;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | code_point >> 6);
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | code_point >> 12);
    out += static_cast<char>(0x80 | (code_point >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | code_point >> 18);
    out += static_cast<char>(0x80 | (code_point >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (code_point >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

std::optional<std::uint32_t> read_hex4(std::string_view s, std::size_t i) {
  if (i + 4 > s.size()) return std::nullopt;
  std::uint32_t value = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char c = s[k];
    value <<= 4;
    if (c >= '0' && c <= '9') value |= static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') value |= static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') value |= static_cast<std::uint32_t>(c - 'A' + 10);
    else return std::nullopt;
  }
  return value;
}

// Decodes the body of a JSON string literal (between the quotes).
std::string decode_string_body(std::string_view body) {
  if (body.find('\\') == std::string_view::npos) return std::string(body);
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out += body[i];
      continue;
    }
    const char escape = body[++i];
    switch (escape) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        std::uint32_t code_point = read_hex4(body, i + 1).value_or(0xFFFD);
        i += 4;
        const bool high_surrogate = code_point >= 0xD800 && code_point <= 0xDBFF;
        if (high_surrogate && i + 2 < body.size() && body[i + 1] == '\\' && body[i + 2] == 'u') {
          const auto low = read_hex4(body, i + 3);
          if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (*low - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, code_point);
        break;
      }
      default: out += escape;  // \" \\ \/
    }
  }
  return out;
}

// The loop behind both top_level_members functions. With `items` set, the first member keyed
// `array_key` whose value is an array has its items collected on the way.
std::optional<std::vector<JsonMember>> scan_top_level_object(std::string_view json, std::string_view array_key,
                                                             std::optional<std::vector<std::string_view>>* items) {
  std::size_t i = skip_space(json, 0);
  if (i >= json.size() || json[i] != '{') return std::nullopt;
  std::vector<JsonMember> members;
  i = skip_space(json, i + 1);
  if (i < json.size() && json[i] == '}') return members;
  while (i < json.size()) {
    if (json[i] != '"') return std::nullopt;
    const std::size_t key_end = skip_string(json, i);
    if (key_end == std::string_view::npos) return std::nullopt;
    std::string key = decode_string_body(json.substr(i + 1, key_end - i - 2));
    i = skip_space(json, key_end);
    if (i >= json.size() || json[i] != ':') return std::nullopt;
    i = skip_space(json, i + 1);
    const bool is_wanted_array = items != nullptr && !*items && i < json.size() && json[i] == '[' && key == array_key;
    const std::size_t value_end = is_wanted_array ? scan_array(json, i, items->emplace()) : skip_value(json, i);
    if (value_end == std::string_view::npos) return std::nullopt;
    members.push_back({std::move(key), json.substr(i, value_end - i)});
    i = skip_space(json, value_end);
    if (i < json.size() && json[i] == ',') {
      i = skip_space(json, i + 1);
      continue;
    }
    if (i < json.size() && json[i] == '}') return members;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<JsonMember>> top_level_members(std::string_view json) {
  return scan_top_level_object(json, {}, nullptr);
}

std::optional<MembersWithItems> top_level_members_with_items(std::string_view json, std::string_view array_key) {
  MembersWithItems found;
  auto members = scan_top_level_object(json, array_key, &found.items);
  if (!members) return std::nullopt;
  found.members = std::move(*members);
  return found;
}

std::optional<std::vector<std::string_view>> array_items(std::string_view array_text) {
  const std::size_t i = skip_space(array_text, 0);
  if (i >= array_text.size() || array_text[i] != '[') return std::nullopt;
  std::vector<std::string_view> items;
  if (scan_array(array_text, i, items) == std::string_view::npos) return std::nullopt;
  return items;
}

}  // namespace boardhook::core
