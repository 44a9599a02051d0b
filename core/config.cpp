// config.cpp -- settings table, parsers and validation for Config.
#include "core/config.hpp"

#include <algorithm>
#include <charconv>
#include <type_traits>

#include "core/delivery.hpp"

namespace boardhook::core {

namespace {

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

// Endpoint keys travel in the URL, and a short key is guessable, and then worth nothing.
const char* check_endpoint_key(std::string_view key) {
  if (key.size() < 16) return "each key must be at least 16 characters";
  const bool is_url_safe = std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
  });
  if (!is_url_safe) return "keys may hold only A-Z a-z 0-9 - _ . ~ (they travel in the URL)";
  return nullptr;
}

const char* check_listen(std::string_view value) {
  if (value.starts_with("unix:")) return value.size() == 5 ? "missing the socket path after \"unix:\"" : nullptr;
  const std::size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return "expected \"unix:/path\" or \"host:port\"";
  const auto port = parse_integer<int>(value.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return "port must be 1-65535";
  return nullptr;
}

const char* check_prefix(std::string_view value) {
  if (value.empty() || value.size() > 64 || !is_key_safe(value)) return "must be 1-64 characters of A-Z a-z 0-9 _ - . :";
  return nullptr;
}

const char* check_absolute_path(std::string_view value) { return value.starts_with("/") ? nullptr : "must be an absolute path"; }
const char* check_signing_secret(std::string_view value) {
  std::string error;
  static thread_local std::string problem;
  if (parse_signing_secrets(value, error)) return nullptr;
  problem = error;
  return problem.c_str();
}

const char* check_user(std::string_view value) { return value.empty() ? "must name a user" : nullptr; }
const char* check_group(std::string_view value) { return value.empty() ? "must name a group" : nullptr; }

using Kind = Setting::Kind;
using Secret = Setting::Secret;

// One row per environment variable. Adding a setting means a row here, a member of Config and a
// line in the README's settings table (a test compares the two).
constexpr Setting table[] = {
    {"BOARDHOOK_VERIFY_TOKEN", &Config::verify_tokens, Kind::list, 0, 0, "", "(required)", Secret::hidden, true, nullptr,
     "token", "the Verify Token(s) typed into Socialboards' webhook settings"},
    {"BOARDHOOK_REDIS_URL", &Config::redis, Kind::redis_url, 0, 0, "redis://127.0.0.1:6379/0", "", Secret::url, true, nullptr,
     "", "where Redis is (or the Sentinels that know) and how to log in"},
    {"BOARDHOOK_REDIS_SENTINEL_PASSWORD", &Config::redis_sentinel_password, Kind::text, 0, 0, "", "(the URL's)",
     Secret::hidden, true, nullptr, "", "the Sentinels' password, when it is not the data nodes'"},
    {"BOARDHOOK_REDIS_MIN_REPLICAS", &Config::redis_min_replicas, Kind::integer, 0, 16, "0", "", Secret::no, false, nullptr, "",
     "replicas that must confirm each write (WAIT) before a 200; short of them the events are also spooled"},
    {"BOARDHOOK_REDIS_WAIT_TIMEOUT_MS", &Config::redis_wait_timeout_ms, Kind::integer, 10, 10'000, "500", "", Secret::no,
     false, nullptr, "", "how long a write waits for its replicas"},
    {"BOARDHOOK_DEDUP_SECONDS", &Config::dedup_seconds, Kind::integer, 0, 30 * 86400, "3600", "", Secret::no, false, nullptr,
     "", "an envelope id already queued within this window is not queued again (0: off)"},
    {"BOARDHOOK_QUEUE_PREFIX", &Config::queue_prefix, Kind::text, 0, 0, "boardhook", "", Secret::no, false, check_prefix, "",
     "first part of every key"},
    {"BOARDHOOK_MAX_BODY_BYTES", &Config::max_body_bytes, Kind::size, 1024, 256ll << 20, "4M", "", Secret::no, false, nullptr,
     "", "largest POST body accepted"},
    // The sender gives up after 20 s; connect + transaction must fit well inside that.
    {"BOARDHOOK_REDIS_TIMEOUT_MS", &Config::redis_timeout_ms, Kind::integer, 10, 8000, "2000", "", Secret::no, false, nullptr,
     "", "connect and command timeout for Redis"},
    {"BOARDHOOK_REDIS_BATCH_WAIT_US", &Config::redis_batch_wait_us, Kind::integer, 0, 100'000, "1000", "", Secret::no, false,
     nullptr, "", "longest a Redis batch waits for POSTs still being read, in microseconds"},
    {"BOARDHOOK_REJECTED_KEEP", &Config::rejected_keep, Kind::integer, 0, 1'000'000, "1000", "", Secret::no, false, nullptr, "",
     "refused POSTs kept for inspection"},
    {"BOARDHOOK_LISTEN", &Config::listen, Kind::text, 0, 0, "", "(inherited)", Secret::no, false, check_listen, "",
     "the FastCGI socket"},
    {"BOARDHOOK_THREADS", &Config::threads, Kind::integer, 1, 1024, "80", "", Secret::no, false, nullptr, "",
     "requests one process serves at once"},
    {"BOARDHOOK_ENDPOINT_KEY", &Config::endpoint_keys, Kind::list, 0, 0, "", "(none)", Secret::hidden, true, check_endpoint_key,
     "key", "the key a POST must carry in ?key="},
    {"BOARDHOOK_COMMUNITIES", &Config::communities, Kind::list, 0, 0, "", "(any)", Secret::no, false, nullptr, "community name",
     "the only CommunityName values accepted"},
    {"BOARDHOOK_MAX_EVENTS", &Config::max_events, Kind::integer, 1, 100'000, "1000", "", Secret::no, false, nullptr, "",
     "most items one notification may hold"},
    {"BOARDHOOK_USER", &Config::user, Kind::text, 0, 0, "", "(none)", Secret::no, false, check_user, "",
     "the user to switch to after opening files, when started as root"},
    {"BOARDHOOK_SOCKET_GROUP", &Config::socket_group, Kind::text, 0, 0, "", "(none)", Secret::no, false, check_group, "",
     "the group of a unix FastCGI socket"},
    {"BOARDHOOK_SPOOL_DIR", &Config::spool_dir, Kind::text, 0, 0, "", "(none)", Secret::no, false, check_absolute_path, "",
     "the disk spool's folder"},
    {"BOARDHOOK_SPOOL_MAX_BYTES", &Config::spool_max_bytes, Kind::size, 1 << 20, 0, "1G", "", Secret::no, false, nullptr, "",
     "the spool's size limit"},
    {"BOARDHOOK_LOG_LEVEL", &Config::log_level, Kind::choice, 0, 0, "info", "", Secret::no, false, nullptr,
     "debug|info|warn|error", "the least severe log lines written"},
    {"BOARDHOOK_SIGNING_SECRET", &Config::signing_secrets, Kind::list, 0, 0, "", "(none)", Secret::hidden, true,
     check_signing_secret, "secret", "the Standard Webhooks secret(s) workers sign HTTP deliveries with"},
    {"BOARDHOOK_WEB_ACTIONS", &Config::web_actions, Kind::choice, 0, 0, "off", "", Secret::no, false, nullptr, "off|on",
     "whether the web view may requeue, purge and replay"},
};

std::string size_text(std::int64_t bytes) {
  constexpr std::pair<std::int64_t, char> units[] = {{1ll << 30, 'G'}, {1ll << 20, 'M'}, {1ll << 10, 'k'}};
  for (const auto& [unit, suffix] : units) {
    if (bytes % unit == 0) return std::to_string(bytes / unit) + suffix;
  }
  return std::to_string(bytes);
}

std::string choices_text(std::string_view choices) {
  std::string text;
  while (!choices.empty()) {
    const std::size_t bar = choices.find('|');
    const std::string_view choice = choices.substr(0, bar);
    choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
    if (!text.empty()) text += choices.empty() ? " or " : ", ";
    text += choice;
  }
  return text;
}

bool is_choice(std::string_view choices, std::string_view value) {
  while (!choices.empty()) {
    const std::size_t bar = choices.find('|');
    if (choices.substr(0, bar) == value) return true;
    choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
  }
  return false;
}

// Parses `value` by the row's kind into its member; returns what is wrong, or "".
std::string apply(const Setting& setting, Config& config, std::string_view value) {
  switch (setting.kind) {
    case Kind::integer: {
      const auto number = parse_integer<std::int64_t>(value);
      if (!number || *number < setting.min || *number > setting.max) {
        return "must be an integer from " + std::to_string(setting.min) + " to " + std::to_string(setting.max);
      }
      if (const auto member = std::get_if<int Config::*>(&setting.member)) config.**member = static_cast<int>(*number);
      else config.*std::get<std::size_t Config::*>(setting.member) = static_cast<std::size_t>(*number);
      return {};
    }
    case Kind::size: {
      const auto size = parse_size(value);
      const bool too_big = setting.max > 0 && (!size || *size > static_cast<std::size_t>(setting.max));
      if (!size || *size < static_cast<std::size_t>(setting.min) || too_big) {
        return setting.max > 0 ? "must be a size from " + size_text(setting.min) + " to " + size_text(setting.max) +
                                     " (bytes, or with k, M or G)"
                               : "must be a size of at least " + size_text(setting.min) + " (bytes, or with k, M or G)";
      }
      config.*std::get<std::size_t Config::*>(setting.member) = *size;
      return {};
    }
    case Kind::text:
      if (setting.check != nullptr) {
        if (const char* problem = setting.check(value)) return problem;
      }
      config.*std::get<std::string Config::*>(setting.member) = value;
      return {};
    case Kind::list: {
      std::vector<std::string> items = split_list(value);
      if (items.empty()) return "holds no " + std::string(setting.choices_or_noun);
      for (const std::string& item : items) {
        if (setting.check == nullptr) break;
        if (const char* problem = setting.check(item)) return problem;
      }
      config.*std::get<std::vector<std::string> Config::*>(setting.member) = std::move(items);
      return {};
    }
    case Kind::redis_url: {
      std::string error;
      auto endpoint = parse_redis_url(value, error);
      if (!endpoint) return error;
      config.*std::get<RedisEndpoint Config::*>(setting.member) = std::move(*endpoint);
      return {};
    }
    case Kind::choice:
      if (!is_choice(setting.choices_or_noun, value)) return "must be " + choices_text(setting.choices_or_noun);
      config.*std::get<std::string Config::*>(setting.member) = value;
      return {};
  }
  return "unknown kind of setting";
}

// How a refused value is shown in an error: secrets never whole.
std::string shown(const Setting& setting, std::string_view value) {
  switch (setting.secret) {
    case Secret::hidden: return "…";
    case Secret::url: return redact_redis_url(value);
    case Secret::no: break;
  }
  return std::string(value);
}

std::string quoted_setting(std::string_view name, std::string_view value) {
  std::string text(name);
  text += "=\"";
  text += value;
  text += '"';
  return text;
}

std::string file_variable(const Setting& setting) { return std::string(setting.name) + "_FILE"; }

// A setting given as <name>_FILE: the value is the file's contents.
void apply_from_file(const Setting& setting, Config& config, const EnvLookup& lookup, const FileReader& read_file) {
  const std::string variable = file_variable(setting);
  const auto path = lookup(variable);
  if (!path) return;
  if (lookup(setting.name)) {
    throw ConfigError(std::string(setting.name) + " and " + variable + " are both set: set only one");
  }
  std::string error;
  const auto contents = read_file(*path, error);
  if (!contents) throw ConfigError(quoted_setting(variable, *path) + ": " + error);
  // A file's last line ends with a newline that is not part of the value.
  std::string_view value = *contents;
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.remove_suffix(1);
  if (const std::string problem = apply(setting, config, value); !problem.empty()) {
    throw ConfigError(quoted_setting(variable, *path) + ": " + problem);
  }
}

// The member's value for the start-up line; secrets as a count, or "set".
std::string summary_value(const Setting& setting, const Config& config) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& value = config.*member;
        using Value = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<Value, std::vector<std::string>>) {
          if (value.empty()) return std::string(setting.when_unset);
          if (setting.secret != Secret::no) return std::to_string(value.size());
          std::string joined;
          for (const std::string& item : value) joined += (joined.empty() ? "" : ",") + item;
          return joined;
        } else if constexpr (std::is_same_v<Value, RedisEndpoint>) {
          const std::string where = value.is_unix_socket() ? "unix://" + value.unix_path : value.host + ":" + std::to_string(value.port);
          std::string text = value.is_sentinel() ? "sentinel:" + value.master_name + "@" : "";
          if (value.is_sentinel()) {
            for (std::size_t i = 0; i < value.sentinels.size(); ++i) {
              text += (i ? "," : "") + value.sentinels[i].host + ":" + std::to_string(value.sentinels[i].port);
            }
          } else {
            text += where;
          }
          return text + "/" + std::to_string(value.database) + (value.username.empty() ? "" : " redis_user=" + value.username);
        } else if constexpr (std::is_same_v<Value, std::string>) {
          if (value.empty()) return std::string(setting.when_unset);
          return setting.secret == Secret::no ? value : std::string("set");
        } else {
          return std::to_string(value);
        }
      },
      setting.member);
}

std::string lower_case(std::string_view name) {
  std::string text(name.substr(name.starts_with("BOARDHOOK_") ? 10 : 0));
  for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return text;
}

}  // namespace

Config::Config() {
  for (const Setting& setting : table) {
    if (setting.default_value.empty()) continue;
    // A default that does not parse is a bug of this file, caught by every unit test.
    if (const std::string problem = apply(setting, *this, setting.default_value); !problem.empty()) {
      throw std::logic_error(std::string(setting.name) + " default: " + problem);
    }
  }
}

std::span<const Setting> settings() { return table; }

Config load_config(const EnvLookup& lookup, const FileReader& read_file, bool require_token) {
  Config config;
  for (const Setting& setting : table) {
    if (const auto value = lookup(setting.name)) {
      if (const std::string problem = apply(setting, config, *value); !problem.empty()) {
        throw ConfigError(quoted_setting(setting.name, shown(setting, *value)) + ": " + problem);
      }
    }
    if (setting.from_file) apply_from_file(setting, config, lookup, read_file);
  }
  if (!config.redis_sentinel_password.empty()) {
    config.redis.sentinel_username.clear();
    config.redis.sentinel_password = config.redis_sentinel_password;
  }
  if (require_token && config.verify_tokens.empty()) {
    throw ConfigError("BOARDHOOK_VERIFY_TOKEN (or BOARDHOOK_VERIFY_TOKEN_FILE) is required: "
                      "the verification handshake cannot be answered without it");
  }
  return config;
}

std::string describe(const Config& config) {
  std::string line;
  for (const Setting& setting : table) {
    if (!line.empty()) line += ' ';
    line += lower_case(setting.name) + "=" + summary_value(setting, config);
  }
  return line;
}

std::vector<std::string> setting_names() {
  std::vector<std::string> names;
  for (const Setting& setting : table) {
    names.emplace_back(setting.name);
    if (setting.from_file) names.push_back(file_variable(setting));
  }
  return names;
}

std::string documented_default(std::string_view name) {
  for (const Setting& setting : table) {
    if (setting.name == name) {
      return setting.default_value.empty() ? std::string(setting.when_unset) : "`" + std::string(setting.default_value) + "`";
    }
    if (setting.from_file && file_variable(setting) == name) return "";
  }
  return "?";
}

}  // namespace boardhook::core
