// redis_url.hpp -- BOARDHOOK_REDIS_URL: where Redis is and how to log in, read with Boost.URL.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boardhook::core {

struct HostPort {
  std::string host;
  int port = 0;
};

struct RedisEndpoint {
  std::string host = "127.0.0.1";  // empty when `unix_path` is set or the primary is asked of Sentinels
  int port = 6379;
  std::string unix_path;           // set for unix:///path URLs
  int database = 0;
  std::string username;            // Redis 6 ACL user; empty for the default user
  std::string password;            // never logged
  // redis-sentinel:// URLs: the Sentinels to ask for the primary of `master_name`, and how to log
  // in to them (by default as to the data nodes).
  std::vector<HostPort> sentinels;
  std::string master_name;
  std::string sentinel_username;
  std::string sentinel_password;   // never logged

  bool is_unix_socket() const { return !unix_path.empty(); }
  bool is_sentinel() const { return !sentinels.empty(); }
};

// Parses redis://[[user]:password@]host[:port][/db] (host may be [IPv6]), unix:///path[?db=N], or
// redis-sentinel://[[user]:password@]host1[:port1][,host2[:port2]...][/db]#master (the form
// Lettuce and others use; Sentinels listen on 26379 unless a port is given).
// The user name and password are percent-decoded: a password holding '@', '/', ':', '?', '#' or
// '%' is written with %40, %2F, %3A, %3F, %23, %25 (a ':' after the first needs none).
// Returns nullopt with `error` set when malformed.
std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string& error);

// `url` with its password replaced by "***", for error messages; the rest as given, so that an
// operator sees what was wrong. Works on malformed text too: everything between "://" and the
// last '@' after it, but a user name before the first ':', counts as the password.
std::string redact_redis_url(std::string_view url);

}  // namespace boardhook::core
