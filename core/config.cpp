// config.cpp -- settings table, parsers and validation for Config.
#include "core/config.hpp"

#include <algorithm>
#include <charconv>

namespace boardhook::core {

namespace {

using Apply = const char* (*)(Config&, std::string_view value);  // nullptr = accepted

template <typename Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "4194304", "512k", "4M" (binary multiples).
std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': case 'K': multiplier = 1024; break;
      case 'm': case 'M': multiplier = 1024 * 1024; break;
      case 'g': case 'G': multiplier = 1024 * 1024 * 1024; break;
      default: break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  const auto number = parse_integer<std::size_t>(text);
  if (!number || *number > SIZE_MAX / multiplier) return std::nullopt;
  return *number * multiplier;
}

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool is_key_safe(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

// Comma-separated, blanks trimmed and empty entries dropped.
std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> items;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view item = trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

// Tokens are comma-separated so that two can be valid while one is rotated out.
const char* apply_tokens(Config& config, std::string_view value) {
  config.verify_tokens = split_list(value);
  if (config.verify_tokens.empty()) return "holds no token";
  return nullptr;
}

// Endpoint keys rotate like tokens. A short key is guessable, and then worth nothing.
const char* apply_endpoint_keys(Config& config, std::string_view value) {
  config.endpoint_keys = split_list(value);
  if (config.endpoint_keys.empty()) return "holds no key";
  for (const std::string& key : config.endpoint_keys) {
    if (key.size() < 16) return "each key must be at least 16 characters";
    const bool is_url_safe = std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    });
    if (!is_url_safe) return "keys may hold only A-Z a-z 0-9 - _ . ~ (they travel in the URL)";
  }
  return nullptr;
}

const char* apply_listen(Config& config, std::string_view value) {
  if (value.starts_with("unix:")) {
    if (value.size() == 5) return "missing the socket path after \"unix:\"";
  } else {
    const std::size_t colon = value.rfind(':');
    if (colon == std::string_view::npos) return "expected \"unix:/path\" or \"host:port\"";
    const auto port = parse_integer<int>(value.substr(colon + 1));
    if (!port || *port < 1 || *port > 65535) return "port must be 1-65535";
  }
  config.listen = value;
  return nullptr;
}

// How a refused value is shown in the start-up error; nullptr shows it whole. Secrets are
// never echoed: a token or key not at all, a Redis URL without its password.
using Shown = std::string (*)(std::string_view value);

std::string hidden(std::string_view) { return "…"; }

struct Setting {
  std::string_view name;
  Apply apply;
  Shown shown = nullptr;
};

// One row per environment variable (BOARDHOOK_VERIFY_TOKEN_FILE is read separately:
// it names a file, and reading files is the caller's business).
constexpr Setting settings[] = {
    {"BOARDHOOK_VERIFY_TOKEN", apply_tokens, hidden},
    {"BOARDHOOK_REDIS_URL",
     [](Config& c, std::string_view v) -> const char* {
       static thread_local std::string error;
       auto endpoint = parse_redis_url(v, error);
       if (!endpoint) return error.c_str();
       c.redis = *endpoint;
       return nullptr;
     },
     redact_redis_url},
    {"BOARDHOOK_QUEUE_PREFIX",
     [](Config& c, std::string_view v) -> const char* {
       if (v.empty() || v.size() > 64 || !is_key_safe(v)) return "must be 1-64 characters of A-Z a-z 0-9 _ - . :";
       c.queue_prefix = v;
       return nullptr;
     }},
    {"BOARDHOOK_MAX_BODY_BYTES",
     [](Config& c, std::string_view v) -> const char* {
       const auto size = parse_size(v);
       if (!size || *size < 1024 || *size > 256u * 1024 * 1024) return "must be a size from 1k to 256M (bytes, or with k/M)";
       c.max_body_bytes = *size;
       return nullptr;
     }},
    {"BOARDHOOK_REDIS_TIMEOUT_MS",
     [](Config& c, std::string_view v) -> const char* {
       // The sender gives up after 20 s; connect + transaction must fit well inside that.
       const auto ms = parse_integer<int>(v);
       if (!ms || *ms < 10 || *ms > 8000) return "must be an integer from 10 to 8000";
       c.redis_timeout_ms = *ms;
       return nullptr;
     }},
    {"BOARDHOOK_REDIS_BATCH_WAIT_US",
     [](Config& c, std::string_view v) -> const char* {
       const auto us = parse_integer<int>(v);
       if (!us || *us < 0 || *us > 100'000) return "must be an integer from 0 to 100000 (microseconds)";
       c.redis_batch_wait_us = *us;
       return nullptr;
     }},
    {"BOARDHOOK_REJECTED_KEEP",
     [](Config& c, std::string_view v) -> const char* {
       const auto keep = parse_integer<std::size_t>(v);
       if (!keep || *keep > 1'000'000) return "must be an integer from 0 to 1000000";
       c.rejected_keep = *keep;
       return nullptr;
     }},
    {"BOARDHOOK_LISTEN", apply_listen},
    {"BOARDHOOK_THREADS",
     [](Config& c, std::string_view v) -> const char* {
       const auto threads = parse_integer<int>(v);
       if (!threads || *threads < 1 || *threads > 1024) return "must be an integer from 1 to 1024";
       c.threads = *threads;
       return nullptr;
     }},
    {"BOARDHOOK_ENDPOINT_KEY", apply_endpoint_keys, hidden},
    {"BOARDHOOK_COMMUNITIES",
     [](Config& c, std::string_view v) -> const char* {
       c.communities = split_list(v);
       if (c.communities.empty()) return "holds no community name";
       return nullptr;
     }},
    {"BOARDHOOK_MAX_EVENTS",
     [](Config& c, std::string_view v) -> const char* {
       const auto count = parse_integer<std::size_t>(v);
       if (!count || *count < 1 || *count > 100'000) return "must be an integer from 1 to 100000";
       c.max_events = *count;
       return nullptr;
     }},
    {"BOARDHOOK_USER",
     [](Config& c, std::string_view v) -> const char* {
       if (v.empty()) return "must name a user";
       c.user = v;
       return nullptr;
     }},
    {"BOARDHOOK_SOCKET_GROUP",
     [](Config& c, std::string_view v) -> const char* {
       if (v.empty()) return "must name a group";
       c.socket_group = v;
       return nullptr;
     }},
    {"BOARDHOOK_SPOOL_DIR",
     [](Config& c, std::string_view v) -> const char* {
       if (!v.starts_with("/")) return "must be an absolute path";
       c.spool_dir = v;
       return nullptr;
     }},
    {"BOARDHOOK_SPOOL_MAX_BYTES",
     [](Config& c, std::string_view v) -> const char* {
       const auto size = parse_size(v);
       if (!size || *size < 1024 * 1024) return "must be a size of at least 1M (bytes, or with k/M/G)";
       c.spool_max_bytes = *size;
       return nullptr;
     }},
    {"BOARDHOOK_LOG_LEVEL",
     [](Config& c, std::string_view v) -> const char* {
       constexpr std::string_view levels[] = {"debug", "info", "warn", "error"};
       if (std::find(std::begin(levels), std::end(levels), v) == std::end(levels)) return "must be debug, info, warn or error";
       c.log_level = v;
       return nullptr;
     }},
};

std::string quoted_setting(std::string_view name, std::string_view value) {
  std::string text(name);
  text += "=\"";
  text += value;
  text += '"';
  return text;
}

}  // namespace

Config load_config(const EnvLookup& lookup, const FileReader& read_file, bool require_token) {
  Config config;
  for (const Setting& setting : settings) {
    const auto value = lookup(setting.name);
    if (!value) continue;
    if (const char* problem = setting.apply(config, *value)) {
      throw ConfigError(quoted_setting(setting.name, setting.shown ? setting.shown(*value) : *value) + ": " + problem);
    }
  }
  if (const auto token_file = lookup("BOARDHOOK_VERIFY_TOKEN_FILE")) {
    if (lookup("BOARDHOOK_VERIFY_TOKEN")) {
      throw ConfigError("BOARDHOOK_VERIFY_TOKEN and BOARDHOOK_VERIFY_TOKEN_FILE are both set: set only one");
    }
    std::string error;
    const auto contents = read_file(*token_file, error);
    if (!contents) throw ConfigError(quoted_setting("BOARDHOOK_VERIFY_TOKEN_FILE", *token_file) + ": " + error);
    if (const char* problem = apply_tokens(config, *contents)) {
      throw ConfigError(quoted_setting("BOARDHOOK_VERIFY_TOKEN_FILE", *token_file) + ": " + problem);
    }
  }
  if (const auto key_file = lookup("BOARDHOOK_ENDPOINT_KEY_FILE")) {
    if (lookup("BOARDHOOK_ENDPOINT_KEY")) {
      throw ConfigError("BOARDHOOK_ENDPOINT_KEY and BOARDHOOK_ENDPOINT_KEY_FILE are both set: set only one");
    }
    std::string error;
    const auto contents = read_file(*key_file, error);
    if (!contents) throw ConfigError(quoted_setting("BOARDHOOK_ENDPOINT_KEY_FILE", *key_file) + ": " + error);
    if (const char* problem = apply_endpoint_keys(config, *contents)) {
      throw ConfigError(quoted_setting("BOARDHOOK_ENDPOINT_KEY_FILE", *key_file) + ": " + problem);
    }
  }
  if (require_token && config.verify_tokens.empty()) {
    throw ConfigError("BOARDHOOK_VERIFY_TOKEN (or BOARDHOOK_VERIFY_TOKEN_FILE) is required: "
                      "the verification handshake cannot be answered without it");
  }
  return config;
}

std::string describe(const Config& config) {
  std::string redis = config.redis.is_unix_socket()
                          ? "unix://" + config.redis.unix_path
                          : config.redis.host + ":" + std::to_string(config.redis.port);
  redis += "/" + std::to_string(config.redis.database);
  return "listen=" + (config.listen.empty() ? std::string("fd:0") : config.listen) + " redis=" + redis +
         " prefix=" + config.queue_prefix + " max_body_bytes=" + std::to_string(config.max_body_bytes) +
         " redis_timeout_ms=" + std::to_string(config.redis_timeout_ms) +
         " redis_batch_wait_us=" + std::to_string(config.redis_batch_wait_us) +
         " rejected_keep=" + std::to_string(config.rejected_keep) + " threads=" + std::to_string(config.threads) +
         " spool=" + (config.spool_dir.empty() ? std::string("off") : config.spool_dir) +
         " spool_max_bytes=" + std::to_string(config.spool_max_bytes) +
         " verify_tokens=" + std::to_string(config.verify_tokens.size()) +
         " endpoint_keys=" + std::to_string(config.endpoint_keys.size()) +
         " communities=" + (config.communities.empty() ? std::string("any") : std::to_string(config.communities.size())) +
         " max_events=" + std::to_string(config.max_events) + (config.user.empty() ? "" : " user=" + config.user);
}

std::vector<std::string_view> setting_names() {
  std::vector<std::string_view> names;
  for (const Setting& setting : settings) names.push_back(setting.name);
  names.push_back("BOARDHOOK_VERIFY_TOKEN_FILE");
  names.push_back("BOARDHOOK_ENDPOINT_KEY_FILE");
  return names;
}

}  // namespace boardhook::core
