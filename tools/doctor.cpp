// doctor.cpp -- boardhook-queues doctor: can this Redis keep the promise, and why not. The facts
// are read here; core/durability.cpp judges them.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>

#include "core/durability.hpp"
#include "core/redis_health.hpp"
#include "io/spool.hpp"
#include "tools/session.hpp"

namespace boardhook::tools {

namespace {

std::optional<std::string> config_value(Session& session, const char* name) {
  std::string error;
  const auto reply = session.redis().call({"CONFIG", "GET", name}, error);
  if (!reply) throw Failure{exit_redis, "redis unavailable: " + error};
  const std::vector<std::string> pair = reply->texts();  // an error (CONFIG renamed away) has none
  if (pair.size() != 2) return std::nullopt;
  return pair[1];
}

std::optional<std::int64_t> config_number(Session& session, const char* name) {
  const auto text = config_value(session, name);
  if (!text) return std::nullopt;
  return std::strtoll(text->c_str(), nullptr, 10);
}

// slaveN:ip=10.0.0.2,port=6379,state=online,offset=123,lag=0
std::vector<core::ReplicaView> replicas_of(const std::string& info) {
  std::vector<core::ReplicaView> replicas;
  for (int n = 0;; ++n) {
    const std::string line = core::info_field(info, "slave" + std::to_string(n));
    if (line.empty()) break;
    const auto part = [&line](const std::string& key) {
      const std::size_t at = line.find(key + "=");
      if (at == std::string::npos) return std::string();
      const std::size_t start = at + key.size() + 1;
      return line.substr(start, line.find(',', start) - start);
    };
    replicas.push_back({part("ip") + ":" + part("port"), part("state"), std::strtoll(part("lag").c_str(), nullptr, 10)});
  }
  return replicas;
}

core::SentinelView ask_sentinel(const core::RedisEndpoint& endpoint, const core::HostPort& sentinel, int timeout_ms) {
  core::RedisEndpoint at;
  at.host = sentinel.host;
  at.port = sentinel.port;
  at.username = endpoint.sentinel_username;
  at.password = endpoint.sentinel_password;
  io::RedisConnection connection(at, std::min(timeout_ms, 1000), false);
  core::SentinelView view;
  view.address = sentinel.host + ":" + std::to_string(sentinel.port);
  std::string error;
  const auto primary = connection.call({"SENTINEL", "get-master-addr-by-name", endpoint.master_name}, error);
  if (!primary) return view;
  view.reachable = true;
  const std::vector<std::string> address = primary->texts();
  if (address.size() == 2) view.primary = address[0] + ":" + address[1];
  const auto quorum = connection.call({"SENTINEL", "ckquorum", endpoint.master_name}, error);
  if (quorum) {
    view.quorum_ok = !quorum->is_error();
    view.quorum_detail = quorum->text;
  }
  return view;
}

core::DurabilityFacts gather(Session& session) {
  const core::Config& config = session.config();
  core::DurabilityFacts facts;
  const std::string server = session.text({"INFO", "server"}).value_or("");
  const std::string replication = session.text({"INFO", "replication"}).value_or("");
  facts.redis_version = core::info_field(server, "redis_version");
  facts.role = core::info_field(replication, "role");
  facts.replicas = replicas_of(replication);
  facts.maxmemory_policy = config_value(session, "maxmemory-policy");
  if (const auto aof = config_value(session, "appendonly")) facts.appendonly = *aof == "yes";
  facts.appendfsync = config_value(session, "appendfsync");
  facts.min_replicas_to_write = config_number(session, "min-replicas-to-write");
  facts.min_replicas_max_lag = config_number(session, "min-replicas-max-lag");
  facts.uses_sentinel = config.redis.is_sentinel();
  for (const core::HostPort& sentinel : config.redis.sentinels) {
    facts.sentinels.push_back(ask_sentinel(config.redis, sentinel, config.redis_timeout_ms));
  }
  facts.handler_min_replicas = config.redis_min_replicas;
  facts.dedup_seconds = config.dedup_seconds;
  facts.spool_dir = !session.options().spool_dir.empty() ? session.options().spool_dir : config.spool_dir;
  if (!facts.spool_dir.empty()) {
    facts.spool_writable = access(facts.spool_dir.c_str(), W_OK | X_OK) == 0;
    if (access(facts.spool_dir.c_str(), R_OK | X_OK) == 0) facts.spool_records = io::Spool::scan_status(facts.spool_dir).records;
  }
  return facts;
}

}  // namespace

int doctor(Session& session) {
  const std::vector<core::Finding> findings = core::assess_durability(gather(session));
  const bool keeps = core::keeps_the_promise(findings);
  if (session.options().json) {
    boost::json::array rows;
    for (const core::Finding& finding : findings) {
      rows.push_back(boost::json::object{
          {"check", finding.check}, {"status", core::severity_name(finding.severity)}, {"detail", finding.detail}});
    }
    std::printf("%s\n", boost::json::serialize(boost::json::object{{"keeps_the_promise", keeps}, {"findings", rows}}).c_str());
  } else {
    for (const core::Finding& finding : findings) {
      std::printf("%-22s %-5s %s\n", finding.check.c_str(), std::string(core::severity_name(finding.severity)).c_str(),
                  finding.detail.c_str());
    }
    std::printf("\n%s\n", keeps ? "An event answered 200 is kept by this setup (warnings above say what to watch)."
                                : "An event answered 200 can be lost here: fix each FAIL above.");
  }
  return keeps ? exit_ok : exit_nothing;
}

}  // namespace boardhook::tools
