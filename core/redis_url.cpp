// redis_url.cpp -- Redis URLs: one parser per scheme, the URL syntax and percent-decoding left to Boost.URL.
#include "core/redis_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <charconv>

namespace boardhook::core {

namespace {

namespace urls = boost::urls;

std::optional<int> parse_number(std::string_view text, int low, int high) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || value < low || value > high) return std::nullopt;
  return value;
}

// The text after the authority ("/0", "?db=1"). A '@' there means the user info held a '/', '?',
// '#' or '@' that ended it early: the commonest mistake, worth naming.
bool is_user_info_cut_short(std::string_view url, const urls::url_view& parsed) {
  const std::size_t after_authority = parsed.scheme().size() + 3 + parsed.encoded_authority().size();
  return url.find('@', after_authority) != std::string_view::npos;
}

constexpr std::string_view percent_encoding_hint =
    "a user name or password must write '@' as %40, '/' as %2F, '?' as %3F, '#' as %23 and '%' as %25";

std::optional<urls::url_view> parse_url(std::string_view url, std::string& error) {
  const auto parsed = urls::parse_uri(url);
  if (!parsed) {
    error = "not a valid URL";
    if (url.find('@') != std::string_view::npos) (error += "; ") += percent_encoding_hint;
    return std::nullopt;
  }
  if (is_user_info_cut_short(url, *parsed)) {
    error = percent_encoding_hint;
    return std::nullopt;
  }
  if (parsed->has_fragment()) {
    error = "a Redis URL has no #fragment";
    return std::nullopt;
  }
  return *parsed;
}

// redis://[[user]:password@]host[:port][/db]
std::optional<RedisEndpoint> parse_tcp_url(std::string_view url, std::string& error) {
  const auto parsed = parse_url(url, error);
  if (!parsed) return std::nullopt;
  RedisEndpoint endpoint;
  if (parsed->has_password()) {
    endpoint.username = parsed->user();
    endpoint.password = parsed->password();
  } else if (parsed->has_userinfo()) {
    endpoint.password = parsed->user();  // as redis-cli reads redis://secret@host
  }
  switch (parsed->host_type()) {
    case urls::host_type::name:
    case urls::host_type::ipv4:
    case urls::host_type::ipv6: endpoint.host = parsed->host_address(); break;
    default: error = "the host must be a name, an IPv4 address or an [IPv6] address"; return std::nullopt;
  }
  if (endpoint.host.empty()) {
    error = "missing host";
    return std::nullopt;
  }
  const std::string_view path = parsed->encoded_path();
  // Boost.URL reads "h:port" as host "h", an empty port and the path "port"; "[::1]x" as the
  // address and the path "x".
  if (!path.empty() && !path.starts_with("/")) {
    error = parsed->has_port() ? "port must be 1-65535" : "unexpected text after the host";
    return std::nullopt;
  }
  if (!parsed->port().empty()) {
    const auto port = parse_number(parsed->port(), 1, 65535);
    if (!port) {
      error = "port must be 1-65535";
      return std::nullopt;
    }
    endpoint.port = *port;
  }
  if (path.size() > 1) {
    const auto database = parse_number(path.substr(1), 0, 1 << 30);
    if (!database) {
      error = "database must be a non-negative integer (redis://host:6379/0)";
      return std::nullopt;
    }
    endpoint.database = *database;
  }
  if (parsed->has_query()) {
    error = "a redis:// URL takes no ?query (the database is its path: redis://host:6379/0)";
    return std::nullopt;
  }
  return endpoint;
}

// unix:///absolute/path[?db=N]
std::optional<RedisEndpoint> parse_unix_url(std::string_view url, std::string& error) {
  const auto parsed = parse_url(url, error);
  if (!parsed) return std::nullopt;
  if (parsed->has_userinfo() || !parsed->encoded_host().empty() || parsed->has_port() || !parsed->path().starts_with("/")) {
    error = "expected unix:///absolute/path";
    return std::nullopt;
  }
  RedisEndpoint endpoint;
  endpoint.host.clear();
  endpoint.unix_path = parsed->path();
  if (parsed->has_query()) {
    const std::string_view query = parsed->encoded_query();
    if (!query.starts_with("db=")) {
      error = "only ?db=N is understood after a unix socket path";
      return std::nullopt;
    }
    const auto database = parse_number(query.substr(3), 0, 1 << 30);
    if (!database) {
      error = "db must be a non-negative integer";
      return std::nullopt;
    }
    endpoint.database = *database;
  }
  return endpoint;
}

// redis-sentinel://[[user]:password@]h1[:p1],h2[:p2]...[/db]#master. Boost.URL reads one host per
// authority, so the list is cut here and each host read as the authority of a redis:// URL.
std::optional<RedisEndpoint> parse_sentinel_url(std::string_view url, std::string& error) {
  std::string_view rest = url.substr(std::string_view("redis-sentinel://").size());
  const std::size_t hash = rest.find('#');
  if (hash == std::string_view::npos || hash + 1 == rest.size()) {
    error = "the primary's name goes after '#' (redis-sentinel://h1:26379,h2:26379/0#mymaster)";
    return std::nullopt;
  }
  const auto name = urls::make_pct_string_view(rest.substr(hash + 1));
  if (!name || name->decoded_size() == 0) {
    error = "the primary's name after '#' has a broken %XX escape";
    return std::nullopt;
  }
  RedisEndpoint endpoint;
  endpoint.host.clear();
  endpoint.master_name = name->decode();
  rest = rest.substr(0, hash);
  const std::size_t slash = rest.find('/');
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  std::string_view authority = rest.substr(0, slash);
  std::string credentials;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    credentials = std::string(authority.substr(0, at + 1));
    authority = authority.substr(at + 1);
  }
  // The credentials and the database, read as those of a redis:// URL to the first host.
  while (!authority.empty()) {
    const std::size_t comma = authority.find(',');
    const std::string_view host = authority.substr(0, comma);
    authority = comma == std::string_view::npos ? std::string_view() : authority.substr(comma + 1);
    const std::string single = "redis://" + credentials + std::string(host) + std::string(path);
    auto one = parse_tcp_url(single, error);
    if (!one) return std::nullopt;
    const bool has_port = urls::parse_uri(single).has_value() && urls::parse_uri(single)->has_port();
    endpoint.sentinels.push_back({one->host, has_port ? one->port : 26379});
    endpoint.username = one->username;
    endpoint.password = one->password;
    endpoint.database = one->database;
  }
  if (endpoint.sentinels.empty()) {
    error = "no Sentinel given (redis-sentinel://h1:26379,h2:26379/0#mymaster)";
    return std::nullopt;
  }
  endpoint.sentinel_username = endpoint.username;
  endpoint.sentinel_password = endpoint.password;
  return endpoint;
}

struct Scheme {
  std::string_view name;
  std::optional<RedisEndpoint> (*parse)(std::string_view url, std::string& error);
};

// A scheme whose authority is not one host (a list of Sentinels, say) parses it itself.
constexpr Scheme schemes[] = {
    {"redis", parse_tcp_url},
    {"unix", parse_unix_url},
    {"redis-sentinel", parse_sentinel_url},
};

}  // namespace

std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string& error) {
  const std::size_t separator = url.find("://");
  if (separator == std::string_view::npos) {
    error = "missing \"://\"";
    return std::nullopt;
  }
  const std::string_view scheme = url.substr(0, separator);
  for (const Scheme& known : schemes) {
    if (known.name == scheme) return known.parse(url, error);
  }
  error = "scheme must be redis://, unix:// or redis-sentinel://";
  return std::nullopt;
}

std::string redact_redis_url(std::string_view url) {
  const std::size_t separator = url.find("://");
  const std::size_t start = separator == std::string_view::npos ? 0 : separator + 3;
  const std::size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  const std::size_t colon = url.substr(start, at - start).find(':');
  const std::size_t password_start = colon == std::string_view::npos ? start : start + colon + 1;
  std::string text(url.substr(0, password_start));
  text += "***";
  text += url.substr(at);
  return text;
}

}  // namespace boardhook::core
