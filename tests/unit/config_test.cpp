// config_test.cpp -- load_config from a map: defaults, every setting, token files, refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"

using namespace boardhook::core;

namespace {

using Env = std::map<std::string, std::string, std::less<>>;
using Files = std::map<std::string, std::string, std::less<>>;

EnvLookup lookup_in(const Env& env) {
  return [&env](std::string_view name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  };
}

// A FileReader over an in-memory map that records which paths were read.
struct FakeFiles {
  Files files;
  std::vector<std::string> reads;

  FileReader reader() {
    return [this](const std::string& path, std::string& error) -> std::optional<std::string> {
      reads.push_back(path);
      const auto found = files.find(path);
      if (found == files.end()) {
        error = "No such file or directory";
        return std::nullopt;
      }
      return found->second;
    };
  }
};

Config load(const Env& env) {
  FakeFiles files;
  return load_config(lookup_in(env), files.reader());
}

// The message of the ConfigError that loading `env` throws.
std::string error_of(const Env& env, FakeFiles files = {}) {
  try {
    load_config(lookup_in(env), files.reader());
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("no ConfigError was thrown");
  return {};
}

const Env token = {{"BOARDHOOK_VERIFY_TOKEN", "fjord-lantern-7731"}};

Env with_token(Env env) {
  env.insert(token.begin(), token.end());
  return env;
}

}  // namespace

// ---------------------------------------------------------------- defaults and good values

TEST_CASE("with only a token every setting has its documented default") {
  const Config config = load(token);
  CHECK(config.verify_tokens == std::vector<std::string>{"fjord-lantern-7731"});
  CHECK(config.redis.host == "127.0.0.1");
  CHECK(config.redis.port == 6379);
  CHECK(config.redis.database == 0);
  CHECK_FALSE(config.redis.is_unix_socket());
  CHECK(config.redis.password.empty());
  CHECK(config.queue_prefix == "boardhook");
  CHECK(config.max_body_bytes == 4u * 1024 * 1024);
  CHECK(config.redis_timeout_ms == 2000);
  CHECK(config.redis_batch_wait_us == 1000);
  CHECK(config.rejected_keep == 1000);
  CHECK(config.listen.empty());
  CHECK(config.threads == 80);
  CHECK(config.spool_dir.empty());
  CHECK(config.spool_max_bytes == 1024ull * 1024 * 1024);
  CHECK(config.log_level == "info");
}

TEST_CASE("every BOARDHOOK variable is parsed into its field") {
  const Config config = load({{"BOARDHOOK_VERIFY_TOKEN", "tok-1"},
                              {"BOARDHOOK_REDIS_URL", "redis://redis.internal:6380/3"},
                              {"BOARDHOOK_QUEUE_PREFIX", "sb.prod:v1"},
                              {"BOARDHOOK_MAX_BODY_BYTES", "8388608"},
                              {"BOARDHOOK_REDIS_TIMEOUT_MS", "750"},
                              {"BOARDHOOK_REDIS_BATCH_WAIT_US", "250"},
                              {"BOARDHOOK_REJECTED_KEEP", "25"},
                              {"BOARDHOOK_LISTEN", "127.0.0.1:9000"},
                              {"BOARDHOOK_THREADS", "8"},
                              {"BOARDHOOK_SPOOL_DIR", "/var/spool/boardhook"},
                              {"BOARDHOOK_SPOOL_MAX_BYTES", "2G"},
                              {"BOARDHOOK_LOG_LEVEL", "debug"}});
  CHECK(config.verify_tokens == std::vector<std::string>{"tok-1"});
  CHECK(config.redis.host == "redis.internal");
  CHECK(config.redis.port == 6380);
  CHECK(config.redis.database == 3);
  CHECK(config.queue_prefix == "sb.prod:v1");
  CHECK(config.max_body_bytes == 8388608);
  CHECK(config.redis_timeout_ms == 750);
  CHECK(config.redis_batch_wait_us == 250);
  CHECK(config.rejected_keep == 25);
  CHECK(config.listen == "127.0.0.1:9000");
  CHECK(config.threads == 8);
  CHECK(config.spool_dir == "/var/spool/boardhook");
  CHECK(config.spool_max_bytes == 2ull * 1024 * 1024 * 1024);
  CHECK(config.log_level == "debug");
}

TEST_CASE("every setting name is one this test file exercises") {
  // A new row in the settings table must get a test here (and a README line).
  const std::vector<std::string_view> tested = {
      "BOARDHOOK_VERIFY_TOKEN",    "BOARDHOOK_REDIS_URL",     "BOARDHOOK_QUEUE_PREFIX",
      "BOARDHOOK_MAX_BODY_BYTES",  "BOARDHOOK_REDIS_TIMEOUT_MS", "BOARDHOOK_REJECTED_KEEP",
      "BOARDHOOK_LISTEN",          "BOARDHOOK_THREADS",       "BOARDHOOK_SPOOL_DIR",
      "BOARDHOOK_SPOOL_MAX_BYTES", "BOARDHOOK_LOG_LEVEL",     "BOARDHOOK_VERIFY_TOKEN_FILE",
      "BOARDHOOK_ENDPOINT_KEY",    "BOARDHOOK_ENDPOINT_KEY_FILE", "BOARDHOOK_COMMUNITIES",
      "BOARDHOOK_MAX_EVENTS",      "BOARDHOOK_USER",          "BOARDHOOK_SOCKET_GROUP",
      "BOARDHOOK_REDIS_BATCH_WAIT_US", "BOARDHOOK_REDIS_URL_FILE", "BOARDHOOK_REDIS_SENTINEL_PASSWORD",
      "BOARDHOOK_REDIS_SENTINEL_PASSWORD_FILE", "BOARDHOOK_REDIS_MIN_REPLICAS", "BOARDHOOK_REDIS_WAIT_TIMEOUT_MS",
      "BOARDHOOK_DEDUP_SECONDS", "BOARDHOOK_WEB_ACTIONS",
      "BOARDHOOK_SIGNING_SECRET", "BOARDHOOK_SIGNING_SECRET_FILE"};
  const std::vector<std::string> names = setting_names();
  CHECK(names.size() == tested.size());
  for (const auto& name : names) {
    INFO("setting " << name);
    CHECK(std::find(tested.begin(), tested.end(), name) != tested.end());
  }
}

TEST_CASE("sizes accept bytes and k M and G suffixes in either case") {
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "1024"}})).max_body_bytes == 1024);
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "512k"}})).max_body_bytes == 512u * 1024);
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "512K"}})).max_body_bytes == 512u * 1024);
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "4M"}})).max_body_bytes == 4u * 1024 * 1024);
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "16m"}})).max_body_bytes == 16u * 1024 * 1024);
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "1k"}})).max_body_bytes == 1024);
  CHECK(load(with_token({{"BOARDHOOK_MAX_BODY_BYTES", "256M"}})).max_body_bytes == 256u * 1024 * 1024);
  CHECK(load(with_token({{"BOARDHOOK_SPOOL_MAX_BYTES", "1M"}})).spool_max_bytes == 1024u * 1024);
  CHECK(load(with_token({{"BOARDHOOK_SPOOL_MAX_BYTES", "1048576"}})).spool_max_bytes == 1024u * 1024);
  CHECK(load(with_token({{"BOARDHOOK_SPOOL_MAX_BYTES", "3g"}})).spool_max_bytes == 3ull * 1024 * 1024 * 1024);
  CHECK(load(with_token({{"BOARDHOOK_SPOOL_MAX_BYTES", "4096k"}})).spool_max_bytes == 4096u * 1024);
}

TEST_CASE("numeric settings accept the ends of their ranges") {
  CHECK(load(with_token({{"BOARDHOOK_REDIS_TIMEOUT_MS", "10"}})).redis_timeout_ms == 10);
  CHECK(load(with_token({{"BOARDHOOK_REDIS_TIMEOUT_MS", "8000"}})).redis_timeout_ms == 8000);
  CHECK(load(with_token({{"BOARDHOOK_REDIS_BATCH_WAIT_US", "0"}})).redis_batch_wait_us == 0);
  CHECK(load(with_token({{"BOARDHOOK_REDIS_BATCH_WAIT_US", "100000"}})).redis_batch_wait_us == 100'000);
  CHECK(load(with_token({{"BOARDHOOK_REJECTED_KEEP", "0"}})).rejected_keep == 0);
  CHECK(load(with_token({{"BOARDHOOK_REJECTED_KEEP", "1000000"}})).rejected_keep == 1'000'000);
  CHECK(load(with_token({{"BOARDHOOK_THREADS", "1"}})).threads == 1);
  CHECK(load(with_token({{"BOARDHOOK_THREADS", "1024"}})).threads == 1024);
}

TEST_CASE("listen accepts a unix socket path or host and port") {
  CHECK(load(with_token({{"BOARDHOOK_LISTEN", "unix:/run/boardhook/fcgi.sock"}})).listen == "unix:/run/boardhook/fcgi.sock");
  CHECK(load(with_token({{"BOARDHOOK_LISTEN", "localhost:9000"}})).listen == "localhost:9000");
  CHECK(load(with_token({{"BOARDHOOK_LISTEN", "[::1]:9000"}})).listen == "[::1]:9000");
  CHECK(load(with_token({{"BOARDHOOK_LISTEN", "127.0.0.1:65535"}})).listen == "127.0.0.1:65535");
}

TEST_CASE("every log level is accepted") {
  for (const char* level : {"debug", "info", "warn", "error"}) {
    CHECK(load(with_token({{"BOARDHOOK_LOG_LEVEL", level}})).log_level == level);
  }
}

// ---------------------------------------------------------------- verify tokens

TEST_CASE("comma-separated tokens are all accepted for rotation and trimmed") {
  const Config config = load({{"BOARDHOOK_VERIFY_TOKEN", " old-token , new-token,,third "}});
  CHECK(config.verify_tokens == std::vector<std::string>{"old-token", "new-token", "third"});
}

TEST_CASE("the token is read from BOARDHOOK_VERIFY_TOKEN_FILE through the file reader") {
  FakeFiles files;
  files.files["/run/secrets/verify-token"] = "fjord-lantern-7731\n";
  const Config config =
      load_config(lookup_in({{"BOARDHOOK_VERIFY_TOKEN_FILE", "/run/secrets/verify-token"}}), files.reader());
  CHECK(files.reads == std::vector<std::string>{"/run/secrets/verify-token"});
  CHECK(config.verify_tokens == std::vector<std::string>{"fjord-lantern-7731"});
}

TEST_CASE("a token file may hold comma-separated tokens and CRLF line ends") {
  FakeFiles files;
  files.files["/t"] = "old-token,new-token\r\n";
  const Config config = load_config(lookup_in({{"BOARDHOOK_VERIFY_TOKEN_FILE", "/t"}}), files.reader());
  CHECK(config.verify_tokens == std::vector<std::string>{"old-token", "new-token"});
}

TEST_CASE("no file is read when BOARDHOOK_VERIFY_TOKEN_FILE is unset") {
  FakeFiles files;
  load_config(lookup_in(token), files.reader());
  CHECK(files.reads.empty());
}

TEST_CASE("a missing token is refused") {
  CHECK_THAT(error_of({}), Catch::StartsWith("BOARDHOOK_VERIFY_TOKEN"));
  CHECK_THAT(error_of({{"BOARDHOOK_REDIS_URL", "redis://h:1/0"}}), Catch::Contains("required"));
}

TEST_CASE("a program that needs no token loads without one but still checks every value") {
  FakeFiles files;
  const Config config = load_config(lookup_in({{"BOARDHOOK_QUEUE_PREFIX", "w"}}), files.reader(), false);
  CHECK(config.verify_tokens.empty());
  CHECK(config.queue_prefix == "w");
  try {
    load_config(lookup_in({{"BOARDHOOK_THREADS", "0"}}), files.reader(), false);
    FAIL("no ConfigError was thrown");
  } catch (const ConfigError& error) {
    CHECK_THAT(error.what(), Catch::StartsWith("BOARDHOOK_THREADS=\"0\": "));
  }
  const Config with_tokens = load_config(lookup_in({{"BOARDHOOK_VERIFY_TOKEN", "a,b"}}), files.reader(), false);
  CHECK(with_tokens.verify_tokens == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a token variable holding no token is refused") {
  for (const char* value : {"", " ", ",", " , ,\n"}) {
    INFO("value: [" << value << "]");
    CHECK_THAT(error_of({{"BOARDHOOK_VERIFY_TOKEN", value}}), Catch::StartsWith("BOARDHOOK_VERIFY_TOKEN=\""));
  }
}

TEST_CASE("setting both token variables is refused") {
  FakeFiles files;
  files.files["/t"] = "file-token-9999";
  const std::string message =
      error_of({{"BOARDHOOK_VERIFY_TOKEN", "env-token-8888"}, {"BOARDHOOK_VERIFY_TOKEN_FILE", "/t"}}, files);
  CHECK_THAT(message, Catch::Contains("BOARDHOOK_VERIFY_TOKEN_FILE"));
  CHECK_THAT(message, !Catch::Contains("env-token-8888"));
  CHECK_THAT(message, !Catch::Contains("file-token-9999"));
}

TEST_CASE("an unreadable token file is refused naming the file and the reason") {
  CHECK(error_of({{"BOARDHOOK_VERIFY_TOKEN_FILE", "/nowhere/token"}}) ==
        "BOARDHOOK_VERIFY_TOKEN_FILE=\"/nowhere/token\": No such file or directory");
}

TEST_CASE("an empty token file is refused without quoting its contents") {
  FakeFiles files;
  files.files["/t"] = " ,\n";
  const std::string message = error_of({{"BOARDHOOK_VERIFY_TOKEN_FILE", "/t"}}, files);
  CHECK_THAT(message, Catch::StartsWith("BOARDHOOK_VERIFY_TOKEN_FILE=\"/t\": "));
}

// ---------------------------------------------------------------- bad values

TEST_CASE("a bad value is refused with the variable name and the quoted value") {
  const std::pair<std::string, std::string> bad[] = {
      {"BOARDHOOK_QUEUE_PREFIX", ""},
      {"BOARDHOOK_QUEUE_PREFIX", "has space"},
      {"BOARDHOOK_QUEUE_PREFIX", "a*b"},
      {"BOARDHOOK_QUEUE_PREFIX", "x{y}"},
      {"BOARDHOOK_QUEUE_PREFIX", std::string(65, 'p')},
      {"BOARDHOOK_MAX_BODY_BYTES", ""},
      {"BOARDHOOK_MAX_BODY_BYTES", "abc"},
      {"BOARDHOOK_MAX_BODY_BYTES", "-1"},
      {"BOARDHOOK_MAX_BODY_BYTES", "4MB"},
      {"BOARDHOOK_MAX_BODY_BYTES", "4G"},
      {"BOARDHOOK_MAX_BODY_BYTES", " 4M"},
      {"BOARDHOOK_MAX_BODY_BYTES", "1023"},
      {"BOARDHOOK_MAX_BODY_BYTES", "257M"},
      {"BOARDHOOK_MAX_BODY_BYTES", "k"},
      {"BOARDHOOK_MAX_BODY_BYTES", "99999999999999999999999M"},
      {"BOARDHOOK_MAX_BODY_BYTES", "18014398509481984M"},
      {"BOARDHOOK_REDIS_BATCH_WAIT_US", "-1"},
      {"BOARDHOOK_REDIS_BATCH_WAIT_US", "100001"},
      {"BOARDHOOK_REDIS_BATCH_WAIT_US", "1ms"},
      {"BOARDHOOK_REDIS_TIMEOUT_MS", "9"},
      {"BOARDHOOK_REDIS_TIMEOUT_MS", "8001"},
      {"BOARDHOOK_REDIS_TIMEOUT_MS", "2s"},
      {"BOARDHOOK_REDIS_TIMEOUT_MS", "1.5"},
      {"BOARDHOOK_REDIS_TIMEOUT_MS", ""},
      {"BOARDHOOK_REJECTED_KEEP", "-1"},
      {"BOARDHOOK_REJECTED_KEEP", "1000001"},
      {"BOARDHOOK_REJECTED_KEEP", "many"},
      {"BOARDHOOK_LISTEN", ""},
      {"BOARDHOOK_LISTEN", "unix:"},
      {"BOARDHOOK_LISTEN", "localhost"},
      {"BOARDHOOK_LISTEN", "localhost:0"},
      {"BOARDHOOK_LISTEN", "localhost:65536"},
      {"BOARDHOOK_LISTEN", "localhost:http"},
      {"BOARDHOOK_THREADS", "0"},
      {"BOARDHOOK_THREADS", "1025"},
      {"BOARDHOOK_THREADS", "-4"},
      {"BOARDHOOK_THREADS", "four"},
      {"BOARDHOOK_SPOOL_DIR", ""},
      {"BOARDHOOK_SPOOL_DIR", "var/spool/boardhook"},
      {"BOARDHOOK_SPOOL_DIR", "./spool"},
      {"BOARDHOOK_SPOOL_MAX_BYTES", "1023k"},
      {"BOARDHOOK_SPOOL_MAX_BYTES", "0"},
      {"BOARDHOOK_SPOOL_MAX_BYTES", "1T"},
      {"BOARDHOOK_SPOOL_MAX_BYTES", "lots"},
      {"BOARDHOOK_LOG_LEVEL", "verbose"},
      {"BOARDHOOK_LOG_LEVEL", "INFO"},
      {"BOARDHOOK_LOG_LEVEL", ""},
  };
  for (const auto& [name, value] : bad) {
    INFO(name << "=\"" << value << "\"");
    const std::string message = error_of(with_token({{name, value}}));
    CHECK_THAT(message, Catch::StartsWith(name + "=\"" + value + "\": "));
    CHECK(message.size() > name.size() + value.size() + 5);  // says what is wrong
    CHECK_THAT(message, !Catch::Contains("fjord-lantern-7731"));
  }
}

TEST_CASE("a bad Redis URL is refused showing the URL with only its password masked") {
  const std::pair<const char*, const char*> cases[] = {
      {"redis://worker:hunter2-secret@host:0/0", "redis://worker:***@host:0/0"},
      {"redis://:hunter2-secret@/0", "redis://:***@/0"},
      {"redis://hunter2-secret@host:0", "redis://***@host:0"},
      {"redis://worker:hunter2%2Fsecret@host/x", "redis://worker:***@host/x"},
      // Malformed around the password: still masked, up to the last '@'.
      {"redis://worker:hunter2@secret@host:6379/0", "redis://worker:***@host:6379/0"},
      {"redis://worker:hunter2/secret@host", "redis://worker:***@host"},
      {"redis://:hunter2-secret%zz@host", "redis://:***@host"},
      {"http://hunter2-secret@x", "http://***@x"},
      {"redis//worker:hunter2-secret@x", "redis//worker:***@x"},
  };
  for (const auto& [url, shown] : cases) {
    INFO("url: " << url);
    const std::string message = error_of(with_token({{"BOARDHOOK_REDIS_URL", url}}));
    CHECK_THAT(message, Catch::StartsWith("BOARDHOOK_REDIS_URL=\"" + std::string(shown) + "\": "));
    CHECK_THAT(message, !Catch::Contains("hunter2"));
  }
}

TEST_CASE("a bad Redis URL that holds no password is shown whole") {
  for (const char* url : {"redis://redis.internal:0/0", "redis://redis.internal/x", "rediss://redis.internal",
                          "unix://relative.sock", "unix:///run/redis.sock?db=x", "redis//x"}) {
    INFO("url: " << url);
    CHECK_THAT(error_of(with_token({{"BOARDHOOK_REDIS_URL", url}})),
               Catch::StartsWith("BOARDHOOK_REDIS_URL=\"" + std::string(url) + "\": "));
  }
  CHECK(error_of(with_token({{"BOARDHOOK_REDIS_URL", "redis//x"}})) == "BOARDHOOK_REDIS_URL=\"redis//x\": missing \"://\"");
}

TEST_CASE("the configuration summary holds no token and no Redis password") {
  const Config config = load({{"BOARDHOOK_VERIFY_TOKEN", "fjord-lantern-7731,second-token-42"},
                              {"BOARDHOOK_REDIS_URL", "redis://admin:hunter2-secret@redis.internal:6380/2"}});
  const std::string summary = describe(config);
  CHECK_THAT(summary, !Catch::Contains("fjord-lantern"));
  CHECK_THAT(summary, !Catch::Contains("second-token"));
  CHECK_THAT(summary, !Catch::Contains("hunter2"));
  CHECK_THAT(summary, Catch::Contains("redis.internal:6380/2"));
  CHECK_THAT(summary, Catch::Contains("verify_token=2"));
}

TEST_CASE("a unix Redis URL from the environment is stored parsed") {
  const Config config = load(with_token({{"BOARDHOOK_REDIS_URL", "unix:///run/redis.sock?db=4"}}));
  CHECK(config.redis.is_unix_socket());
  CHECK(config.redis.unix_path == "/run/redis.sock");
  CHECK(config.redis.database == 4);
}

TEST_CASE("a Redis URL from the environment gives the ACL user and the decoded password") {
  const Config config = load(with_token({{"BOARDHOOK_REDIS_URL", "redis://boardhook:p%40ss%2Fw0rd@redis.internal:6380/2"}}));
  CHECK(config.redis.username == "boardhook");
  CHECK(config.redis.password == "p@ss/w0rd");
  CHECK(config.redis.host == "redis.internal");
}

TEST_CASE("the security settings are parsed, with their defaults off") {
  const Config defaults = load(token);
  CHECK(defaults.endpoint_keys.empty());
  CHECK(defaults.communities.empty());
  CHECK(defaults.max_events == 1000);
  CHECK(defaults.user.empty());
  CHECK(defaults.socket_group.empty());

  const Config config = load(with_token({{"BOARDHOOK_ENDPOINT_KEY", "abcdefghijklmnop, qrstuvwxyz012345"},
                                         {"BOARDHOOK_COMMUNITIES", "nordkyst-outdoor, fjellgarden-cafe"},
                                         {"BOARDHOOK_MAX_EVENTS", "5"},
                                         {"BOARDHOOK_USER", "boardhook"},
                                         {"BOARDHOOK_SOCKET_GROUP", "www-data"}}));
  CHECK(config.endpoint_keys == std::vector<std::string>{"abcdefghijklmnop", "qrstuvwxyz012345"});
  CHECK(config.communities == std::vector<std::string>{"nordkyst-outdoor", "fjellgarden-cafe"});
  CHECK(config.max_events == 5);
  CHECK(config.user == "boardhook");
  CHECK(config.socket_group == "www-data");
}

TEST_CASE("endpoint keys must be long and URL-safe, and are never echoed in errors") {
  const std::string short_key = error_of(with_token({{"BOARDHOOK_ENDPOINT_KEY", "short-secret"}}));
  CHECK(short_key.find("BOARDHOOK_ENDPOINT_KEY=") == 0);
  CHECK(short_key.find("short-secret") == std::string::npos);
  CHECK(short_key.find("16 characters") != std::string::npos);
  const std::string unsafe = error_of(with_token({{"BOARDHOOK_ENDPOINT_KEY", "has spaces in the key!!"}}));
  CHECK(unsafe.find("has spaces") == std::string::npos);
  CHECK(error_of(with_token({{"BOARDHOOK_MAX_EVENTS", "0"}})).find("BOARDHOOK_MAX_EVENTS=\"0\"") == 0);
  CHECK(error_of(with_token({{"BOARDHOOK_COMMUNITIES", " , "}})).find("no community") != std::string::npos);
}

TEST_CASE("endpoint keys can come from a file, but not from both places") {
  FakeFiles files;
  files.files["/etc/boardhook/endpoint-key"] = "abcdefghijklmnop\n";
  const Config config = load_config(lookup_in(with_token({{"BOARDHOOK_ENDPOINT_KEY_FILE", "/etc/boardhook/endpoint-key"}})),
                                    files.reader());
  CHECK(config.endpoint_keys == std::vector<std::string>{"abcdefghijklmnop"});
  CHECK(error_of(with_token({{"BOARDHOOK_ENDPOINT_KEY_FILE", "/x"}, {"BOARDHOOK_ENDPOINT_KEY", "abcdefghijklmnop"}}))
            .find("both set") != std::string::npos);
  CHECK(error_of(with_token({{"BOARDHOOK_ENDPOINT_KEY_FILE", "/missing"}})).find("BOARDHOOK_ENDPOINT_KEY_FILE=\"/missing\"") == 0);
}

TEST_CASE("replication, deduplication and Sentinel settings are read, and the Sentinel password is kept apart") {
  FakeFiles files;
  files.files["/s"] = "sentinel-secret\n";
  files.files["/u"] = "redis-sentinel://app:data-secret@s1,s2/1#boardhook\n";
  const Config config = load_config(lookup_in(with_token({{"BOARDHOOK_REDIS_URL_FILE", "/u"},
                                                          {"BOARDHOOK_REDIS_SENTINEL_PASSWORD_FILE", "/s"},
                                                          {"BOARDHOOK_REDIS_MIN_REPLICAS", "1"},
                                                          {"BOARDHOOK_REDIS_WAIT_TIMEOUT_MS", "250"},
                                                          {"BOARDHOOK_DEDUP_SECONDS", "0"}})),
                                    files.reader());
  CHECK(config.redis.is_sentinel());
  CHECK(config.redis.password == "data-secret");
  CHECK(config.redis.sentinel_password == "sentinel-secret");
  CHECK(config.redis.sentinel_username.empty());
  CHECK(config.redis_min_replicas == 1);
  CHECK(config.redis_wait_timeout_ms == 250);
  CHECK(config.dedup_seconds == 0);
  const std::string summary = describe(config);
  CHECK_THAT(summary, !Catch::Contains("data-secret"));
  CHECK_THAT(summary, !Catch::Contains("sentinel-secret"));
  CHECK_THAT(summary, Catch::Contains("sentinel:boardhook@s1:26379,s2:26379/1"));
  CHECK(Config{}.dedup_seconds == 3600);
  CHECK(Config{}.redis_min_replicas == 0);
}

TEST_CASE("the web view's actions are off unless BOARDHOOK_WEB_ACTIONS is on") {
  CHECK(Config{}.web_actions == "off");
  CHECK(load(with_token({{"BOARDHOOK_WEB_ACTIONS", "on"}})).web_actions == "on");
  CHECK(error_of(with_token({{"BOARDHOOK_WEB_ACTIONS", "yes"}})) == "BOARDHOOK_WEB_ACTIONS=\"yes\": must be off or on");
}

TEST_CASE("signing secrets are Standard Webhooks secrets, two during a rotation, never echoed") {
  const Config config = load(with_token({{"BOARDHOOK_SIGNING_SECRET", "whsec_MDEyMzQ1Njc4OWFiY2RlZg==, whsec_ZmVkY2JhOTg3NjU0MzIxMA=="}}));
  CHECK(config.signing_secrets.size() == 2);
  const std::string message = error_of(with_token({{"BOARDHOOK_SIGNING_SECRET", "not-a-secret"}}));
  CHECK_THAT(message, Catch::StartsWith("BOARDHOOK_SIGNING_SECRET=\"…\": "));
  CHECK_THAT(message, Catch::Contains("whsec_"));
}
