// redis_url_test.cpp -- Redis URLs: hosts, ports, databases, unix sockets, percent-decoded credentials, masking.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "core/redis_url.hpp"

using namespace boardhook::core;

namespace {

RedisEndpoint redis_url(std::string_view url) {
  std::string error;
  const auto endpoint = parse_redis_url(url, error);
  INFO("url: " << url << " error: " << error);
  REQUIRE(endpoint);
  return *endpoint;
}

std::string redis_url_error(std::string_view url) {
  std::string error;
  const auto endpoint = parse_redis_url(url, error);
  INFO("url: " << url);
  CHECK_FALSE(endpoint);
  CHECK_FALSE(error.empty());
  return error;
}

}  // namespace

// ---------------------------------------------------------------- hosts, ports, databases

TEST_CASE("a redis URL gives host port and database") {
  const RedisEndpoint endpoint = redis_url("redis://redis.example:6390/5");
  CHECK(endpoint.host == "redis.example");
  CHECK(endpoint.port == 6390);
  CHECK(endpoint.database == 5);
  CHECK(endpoint.password.empty());
  CHECK(endpoint.username.empty());
  CHECK_FALSE(endpoint.is_unix_socket());
}

TEST_CASE("a redis URL without port or database uses 6379 and 0") {
  for (const char* url : {"redis://h", "redis://h/", "redis://h:6379", "redis://h:6379/", "redis://h:"}) {
    const RedisEndpoint endpoint = redis_url(url);
    CHECK(endpoint.host == "h");
    CHECK(endpoint.port == 6379);
    CHECK(endpoint.database == 0);
  }
}

TEST_CASE("a redis URL may name an IPv4 address or an IPv6 host in brackets") {
  const RedisEndpoint ipv4 = redis_url("redis://10.0.0.7:6380");
  CHECK(ipv4.host == "10.0.0.7");
  CHECK(ipv4.port == 6380);
  const RedisEndpoint with_port = redis_url("redis://[::1]:6380/1");
  CHECK(with_port.host == "::1");
  CHECK(with_port.port == 6380);
  CHECK(with_port.database == 1);
  const RedisEndpoint without_port = redis_url("redis://[fe80::1]");
  CHECK(without_port.host == "fe80::1");
  CHECK(without_port.port == 6379);
  const RedisEndpoint with_password = redis_url("redis://:pw@[::1]:7/3");
  CHECK(with_password.host == "::1");
  CHECK(with_password.password == "pw");
  CHECK(with_password.port == 7);
}

TEST_CASE("a unix URL gives the socket path and an optional database") {
  const RedisEndpoint plain = redis_url("unix:///var/run/redis/redis.sock");
  CHECK(plain.is_unix_socket());
  CHECK(plain.unix_path == "/var/run/redis/redis.sock");
  CHECK(plain.host.empty());
  CHECK(plain.database == 0);
  const RedisEndpoint with_db = redis_url("unix:///tmp/r.sock?db=2");
  CHECK(with_db.unix_path == "/tmp/r.sock");
  CHECK(with_db.database == 2);
  CHECK(redis_url("unix:///run/my%20redis.sock").unix_path == "/run/my redis.sock");
}

// ---------------------------------------------------------------- user and password

TEST_CASE("a redis URL may carry a password alone or an ACL user and password") {
  const RedisEndpoint password_only = redis_url("redis://:s3cret@h:1/2");
  CHECK(password_only.username.empty());
  CHECK(password_only.password == "s3cret");
  CHECK(password_only.host == "h");
  CHECK(password_only.port == 1);
  CHECK(password_only.database == 2);

  const RedisEndpoint user = redis_url("redis://worker:s3cret@h");
  CHECK(user.username == "worker");
  CHECK(user.password == "s3cret");
  CHECK(user.host == "h");
  CHECK(user.port == 6379);

  // As redis-cli reads it: user info without a colon is the password.
  const RedisEndpoint no_colon = redis_url("redis://s3cret@h");
  CHECK(no_colon.username.empty());
  CHECK(no_colon.password == "s3cret");
  CHECK(no_colon.host == "h");
}

TEST_CASE("a password is percent-decoded so that it may hold '/' '@' ':' and '%'") {
  // The URL is written as `urllib.parse.quote(password, safe="")` would write it.
  const RedisEndpoint slash = redis_url("redis://worker:pa%2Fss@h:7/1");
  CHECK(slash.username == "worker");
  CHECK(slash.password == "pa/ss");
  CHECK(slash.host == "h");
  CHECK(slash.port == 7);
  CHECK(slash.database == 1);
  CHECK(redis_url("redis://:p%40ss@h:7").password == "p@ss");
  CHECK(redis_url("redis://:p%40ss@h:7").host == "h");
  CHECK(redis_url("redis://:a%3Ab@h").password == "a:b");
  CHECK(redis_url("redis://:100%25@h").password == "100%");
  // "%2F" itself, written as a password: its '%' is encoded.
  CHECK(redis_url("redis://:%252F@h").password == "%2F");
  CHECK(redis_url("redis://:%3F%23%20%2B+@h").password == "?# ++");
  // A ':' after the first one separates nothing: it belongs to the password, encoded or not.
  const RedisEndpoint colons = redis_url("redis://worker:pa:ss@h");
  CHECK(colons.username == "worker");
  CHECK(colons.password == "pa:ss");
  // The user name is decoded too.
  CHECK(redis_url("redis://ops%40eu:pw@h").username == "ops@eu");
}

TEST_CASE("a '/' or '@' left unencoded in a password is refused with how to write it") {
  for (const char* url : {"redis://:p@ss@h:7", "redis://worker:pa/ss@h", "redis://worker:pa?ss@h", "redis://worker:pa#ss@h",
                          "redis://:%zz@h", "redis://:100%@h"}) {
    INFO("url: " << url);
    CHECK_THAT(redis_url_error(url), Catch::Contains("%40") && Catch::Contains("%2F"));
  }
}

// ---------------------------------------------------------------- refusals

TEST_CASE("malformed Redis URLs are refused with a reason") {
  CHECK(redis_url_error("redis//x") == "missing \"://\"");
  CHECK(redis_url_error("") == "missing \"://\"");
  CHECK(redis_url_error("http://h:6379") == "scheme must be redis://, unix:// or redis-sentinel://");
  CHECK(redis_url_error("rediss://h") == "scheme must be redis://, unix:// or redis-sentinel://");
  CHECK(redis_url_error("redis://") == "missing host");
  CHECK(redis_url_error("redis://:6379") == "missing host");
  CHECK(redis_url_error("redis://user:pw@") == "missing host");
  for (const char* url : {"redis://h:0", "redis://h:65536", "redis://h:port", "redis://h:-1", "redis://h:99999999999"}) {
    CHECK(redis_url_error(url) == "port must be 1-65535");
  }
  for (const char* url : {"redis://h/x", "redis://h/-1", "redis://h/0/1", "redis://h/1.5"}) {
    CHECK_THAT(redis_url_error(url), Catch::StartsWith("database must be a non-negative integer"));
  }
  CHECK_THAT(redis_url_error("redis://h/0?db=1"), Catch::Contains("no ?query"));
  CHECK_THAT(redis_url_error("redis://h/0#x"), Catch::Contains("no #fragment"));
  CHECK_THAT(redis_url_error("redis://[v1.x]"), Catch::Contains("IPv6"));
  CHECK(redis_url_error("redis://[::1]x") == "unexpected text after the host");
  for (const char* url : {"redis://[::1", "redis://[]:6379", "redis://h x"}) {
    CHECK(redis_url_error(url) == "not a valid URL");
  }
  for (const char* url : {"unix://relative.sock", "unix://", "unix://user@/p", "unix://h:1/p"}) {
    CHECK(redis_url_error(url) == "expected unix:///absolute/path");
  }
  for (const char* url : {"unix:///p?db=x", "unix:///p?db=", "unix:///p?db=-1"}) {
    CHECK(redis_url_error(url) == "db must be a non-negative integer");
  }
  for (const char* url : {"unix:///p?timeout=1", "unix:///p?xx=1"}) {
    CHECK(redis_url_error(url) == "only ?db=N is understood after a unix socket path");
  }
}

// ---------------------------------------------------------------- masking

TEST_CASE("redact_redis_url masks only the password") {
  CHECK(redact_redis_url("redis://worker:s3cret@redis.internal:6379/0") == "redis://worker:***@redis.internal:6379/0");
  CHECK(redact_redis_url("redis://:s3cret@h") == "redis://:***@h");
  CHECK(redact_redis_url("redis://s3cret@h") == "redis://***@h");  // read as a password
  CHECK(redact_redis_url("redis://worker:pa%2Fss@h") == "redis://worker:***@h");
  CHECK(redact_redis_url("redis://worker:pa/ss@h") == "redis://worker:***@h");
  CHECK(redact_redis_url("redis://worker:p@ss@h:7/1") == "redis://worker:***@h:7/1");
  CHECK(redact_redis_url("redis://worker:pa:ss@h") == "redis://worker:***@h");
  CHECK(redact_redis_url("redis//:s3cret@h") == "redis//:***@h");
}

TEST_CASE("redact_redis_url leaves a URL without a password whole") {
  for (const char* url : {"redis://h:6379/0", "redis://[::1]:6380", "unix:///run/redis.sock?db=2", "redis//x", "", "redis://"}) {
    CHECK(redact_redis_url(url) == url);
  }
}

TEST_CASE("a Sentinel URL lists the Sentinels, the primary's name, the credentials and the database") {
  std::string error;
  const auto endpoint = parse_redis_url("redis-sentinel://app:p%40ss@s1:26380,s2,[::1]:26381/2#boardhook", error);
  INFO(error);
  REQUIRE(endpoint);
  CHECK(endpoint->is_sentinel());
  REQUIRE(endpoint->sentinels.size() == 3);
  CHECK(endpoint->sentinels[0].host == "s1");
  CHECK(endpoint->sentinels[0].port == 26380);
  CHECK(endpoint->sentinels[1].host == "s2");
  CHECK(endpoint->sentinels[1].port == 26379);
  CHECK(endpoint->sentinels[2].host == "::1");
  CHECK(endpoint->sentinels[2].port == 26381);
  CHECK(endpoint->master_name == "boardhook");
  CHECK(endpoint->username == "app");
  CHECK(endpoint->password == "p@ss");
  CHECK(endpoint->sentinel_username == "app");
  CHECK(endpoint->sentinel_password == "p@ss");
  CHECK(endpoint->database == 2);
  const auto plain = parse_redis_url("redis-sentinel://10.0.0.1#my%20master", error);
  REQUIRE(plain);
  CHECK(plain->master_name == "my master");
  CHECK(plain->password.empty());
  CHECK(plain->database == 0);
}

TEST_CASE("a Sentinel URL without a primary's name or Sentinels, or with a bad one, is refused") {
  CHECK_THAT(redis_url_error("redis-sentinel://s1:26379"), Catch::Contains("after '#'"));
  CHECK_THAT(redis_url_error("redis-sentinel://s1:26379#"), Catch::Contains("after '#'"));
  CHECK_THAT(redis_url_error("redis-sentinel://#m"), Catch::Contains("Sentinel"));
  CHECK(redis_url_error("redis-sentinel://s1:0#m") == "port must be 1-65535");
  CHECK_THAT(redis_url_error("redis-sentinel://s1/x#m"), Catch::StartsWith("database must be"));
  CHECK(redact_redis_url("redis-sentinel://u:secret@s1,s2#m") == "redis-sentinel://u:***@s1,s2#m");
}
