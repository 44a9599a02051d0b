// json_spans.cpp -- a bounds-checked skipping scanner over already-validated JSON text.
#include "core/json_spans.hpp"

#include <cstdint>

namespace boardhook::core {

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_json_space(s[i])) ++i;
  return i;
}

// `i` at an opening quote; returns the index just past the closing quote, or npos.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return std::string_view::npos;
}

// `i` at the first byte of a value; returns the index just past it, or npos.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    std::size_t depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
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

}  // namespace

std::optional<std::vector<JsonMember>> top_level_members(std::string_view json) {
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
    const std::size_t value_end = skip_value(json, i);
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

std::optional<std::vector<std::string_view>> array_items(std::string_view array_text) {
  std::size_t i = skip_space(array_text, 0);
  if (i >= array_text.size() || array_text[i] != '[') return std::nullopt;
  std::vector<std::string_view> items;
  i = skip_space(array_text, i + 1);
  if (i < array_text.size() && array_text[i] == ']') return items;
  while (i < array_text.size()) {
    const std::size_t value_end = skip_value(array_text, i);
    if (value_end == std::string_view::npos) return std::nullopt;
    items.push_back(array_text.substr(i, value_end - i));
    i = skip_space(array_text, value_end);
    if (i < array_text.size() && array_text[i] == ',') {
      i = skip_space(array_text, i + 1);
      continue;
    }
    if (i < array_text.size() && array_text[i] == ']') return items;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace boardhook::core
