// queues_main.cpp -- boardhook-queues: look inside the queues, and move what is stuck.
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/command_line.hpp"
#include "core/config.hpp"
#include "core/dead_letter.hpp"
#include "core/decide.hpp"
#include "core/envelope.hpp"
#include "core/event_type.hpp"
#include "core/rejected_record.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
#include "core/rfc3339.hpp"
#include "io/environment.hpp"
#include "io/log.hpp"
#include "io/redis_connection.hpp"
#include "io/spool.hpp"
#include "handler/store.hpp"

namespace {

using namespace boardhook;
namespace json = boost::json;

// Exit codes, so scripts can tell outcomes apart.
constexpr int exit_ok = 0;
constexpr int exit_nothing = 1;      // nothing matched, or a replay was refused again
constexpr int exit_usage = 2;
constexpr int exit_redis = 3;        // Redis unavailable or answered an error
constexpr int exit_needs_yes = 4;    // a destructive subcommand without --yes

constexpr const char* usage =
    "usage: boardhook-queues [--json] COMMAND\n"
    "  stats [--watch [--interval S]] [--spool-dir DIR]   queues, workers, rejected, spool\n"
    "  peek TYPE [N] [--newest]          the N oldest (or newest) queued envelopes (default 10)\n"
    "  dead TYPE [N]                     the N newest dead letters\n"
    "  rejected [N]                      the N newest refused requests\n"
    "  requeue TYPE [--id ID] --yes      dead letters back to their queue (all, or one event id)\n"
    "  purge-dead TYPE --yes             delete the dead letters of TYPE\n"
    "  replay-rejected --id REQUEST_ID --yes   validate a kept body again and queue it if it passes\n"
    "Redis and the prefix come from BOARDHOOK_REDIS_URL and BOARDHOOK_QUEUE_PREFIX.\n"
    "Exit codes: 0 done, 1 nothing matched or still refused, 2 usage, 3 Redis unavailable, 4 needs --yes.\n";

struct Options {
  bool json = false, yes = false, watch = false, newest = false;
  double interval = 2.0;
  std::string id, spool_dir;
  std::vector<std::string> words;  // the command and its positional arguments
};

struct Failure {
  int code;
  std::string message;
};

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string age_text(std::optional<std::int64_t> ms) {
  if (!ms) return "-";
  const std::int64_t s = *ms / 1000;
  char text[32];
  if (s < 60) std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60));
  return text;
}

// Lenient readers for records kept in Redis: a field that is missing or of another type is
// shown as "-" (or 0), never a crash, whatever a list holds.
std::string text_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return "-";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

long long number_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<long long>(v->get_uint64());
  if (v->is_double()) return static_cast<long long>(v->get_double());
  return 0;
}

class Tool {
 public:
  Tool(const core::Config& config, Options options)
      : config_(config), options_(std::move(options)), redis_(config.redis, std::max(config.redis_timeout_ms, 1000), false) {}

  io::RedisReply call(const io::RedisCommand& command) {
    std::string error;
    io::RedisReply reply = redis_.call(command, error);
    if (!reply) throw Failure{exit_redis, "redis unavailable: " + error};
    if (reply->type == REDIS_REPLY_ERROR) throw Failure{exit_redis, "redis: " + io::reply_text(*reply)};
    return reply;
  }
  std::int64_t integer(const io::RedisCommand& command) {
    const io::RedisReply reply = call(command);
    return reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
  }
  std::vector<std::string> strings(const io::RedisCommand& command) {
    const io::RedisReply reply = call(command);
    std::vector<std::string> out;
    if (reply->type != REDIS_REPLY_ARRAY) return out;
    for (std::size_t i = 0; i < reply->elements; ++i) {
      if (reply->element[i]->type == REDIS_REPLY_STRING) out.push_back(io::reply_text(*reply->element[i]));
    }
    return out;
  }
  std::optional<std::string> string(const io::RedisCommand& command) {
    const io::RedisReply reply = call(command);
    if (reply->type != REDIS_REPLY_STRING) return std::nullopt;
    return io::reply_text(*reply);
  }

  int run();

 private:
  json::object collect_stats();
  void print_stats(const json::object& stats, const json::object* previous, double seconds);
  int stats();
  int peek();
  int dead();
  int rejected();
  int requeue();
  int purge_dead();
  int replay_rejected();
  std::size_t count_argument(std::size_t position, std::size_t fallback) const;
  std::string type_argument() const;
  void require_yes(const std::string& what) const {
    if (!options_.yes) throw Failure{exit_needs_yes, what + " changes Redis: add --yes to do it"};
  }

  const core::Config& config_;
  Options options_;
  io::RedisConnection redis_;
};

std::size_t Tool::count_argument(std::size_t position, std::size_t fallback) const {
  if (options_.words.size() <= position) return fallback;
  const std::string& text = options_.words[position];
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value == 0 || value > 100000) throw Failure{exit_usage, "N must be 1-100000, not \"" + text + "\""};
  return static_cast<std::size_t>(value);
}

std::string Tool::type_argument() const {
  if (options_.words.size() < 2) throw Failure{exit_usage, options_.words[0] + " needs an event type"};
  std::string error;
  auto type = core::parse_event_type_argument(options_.words[1], error);
  if (!type) throw Failure{exit_usage, error};
  return *type;
}

json::object Tool::collect_stats() {
  const std::string& prefix = config_.queue_prefix;
  const std::int64_t now = now_ms();
  std::set<std::string> types;
  for (auto& type : strings({"SMEMBERS", core::event_types_key(prefix)})) types.insert(type);

  // Workers and what their consumers hold.
  std::map<std::string, std::int64_t> processing_by_type;
  json::array workers;
  const std::vector<std::string> worker_fields = strings({"HGETALL", core::workers_key(prefix)});
  for (std::size_t i = 0; i + 1 < worker_fields.size(); i += 2) {
    const std::string& id = worker_fields[i];
    boost::system::error_code ec;
    json::value info = json::parse(worker_fields[i + 1], ec);
    if (ec || !info.is_object()) info = json::object();
    const auto beat = string({"GET", core::heartbeat_key(prefix, id)});
    std::int64_t consumers = 1;
    if (const auto* value = info.get_object().if_contains("consumers"); value && value->is_int64()) consumers = value->get_int64();
    std::int64_t running = 0;
    for (std::int64_t c = 0; c < std::min<std::int64_t>(consumers, 1024); ++c) {
      for (const std::string& envelope : strings({"LRANGE", core::processing_key(prefix, id + ":" + std::to_string(c)), "0", "-1"})) {
        ++running;
        const auto summary = core::parse_envelope(envelope);
        ++processing_by_type[summary ? summary->event_type : std::string("unknown")];
      }
    }
    json::object worker = info.get_object();
    worker["id"] = id;
    worker["alive"] = beat.has_value();
    if (beat) worker["last_heartbeat_ms"] = std::strtoll(beat->c_str(), nullptr, 10);
    else worker["last_heartbeat_ms"] = nullptr;
    worker["running"] = running;
    workers.push_back(std::move(worker));
  }
  for (const auto& [type, count] : processing_by_type) types.insert(type);

  std::map<std::string, std::int64_t> counters;
  const std::vector<std::string> counter_fields = strings({"HGETALL", core::counters_key(prefix)});
  for (std::size_t i = 0; i + 1 < counter_fields.size(); i += 2) {
    counters[counter_fields[i]] = std::strtoll(counter_fields[i + 1].c_str(), nullptr, 10);
  }

  json::array rows;
  for (const std::string& type : types) {
    json::object row;
    row["type"] = type;
    row["queued"] = integer({"LLEN", core::queue_key(prefix, type)});
    row["processing"] = processing_by_type[type];
    row["retry"] = integer({"ZCARD", core::retry_key(prefix, type)});
    row["dead"] = integer({"LLEN", core::dead_key(prefix, type)});
    row["oldest_age_ms"] = nullptr;
    if (const auto oldest = string({"LINDEX", core::queue_key(prefix, type), "-1"})) {
      const auto summary = core::parse_envelope(*oldest);
      const auto received = summary ? core::parse_rfc3339_ms(summary->received_at) : std::nullopt;
      if (received) row["oldest_age_ms"] = now - *received;
    }
    json::object totals;
    for (const char* what : {"queued", "done", "retried", "dead"}) totals[what] = counters[core::counter_field(what, type)];
    row["totals"] = std::move(totals);
    rows.push_back(std::move(row));
  }

  json::object stats;
  stats["at"] = core::format_rfc3339_ms(now);
  stats["at_ms"] = now;
  stats["types"] = std::move(rows);
  stats["workers"] = std::move(workers);
  stats["rejected"] = integer({"LLEN", core::rejected_key(prefix)});
  const std::string spool_dir = !options_.spool_dir.empty() ? options_.spool_dir : config_.spool_dir;
  if (!spool_dir.empty() && access(spool_dir.c_str(), R_OK | X_OK) == 0) {
    const io::SpoolStatus status = io::Spool::scan_status(spool_dir);
    json::object spool;
    spool["dir"] = spool_dir;
    spool["segments"] = status.segments;
    spool["records"] = status.records;
    spool["bytes"] = status.bytes;
    spool["oldest_age_ms"] = status.oldest_written_at_ms ? json::value(now - *status.oldest_written_at_ms) : json::value(nullptr);
    stats["spool"] = std::move(spool);
  } else {
    stats["spool"] = nullptr;
  }
  return stats;
}

void Tool::print_stats(const json::object& stats, const json::object* previous, double seconds) {
  const auto total_of = [](const json::object* snapshot, const std::string& type, const char* what) -> std::int64_t {
    if (snapshot == nullptr) return 0;
    for (const auto& row : snapshot->at("types").get_array()) {
      if (row.at("type").get_string() == type) return row.at("totals").at(what).to_number<std::int64_t>();
    }
    return 0;
  };
  if (options_.json) {
    json::object out = stats;
    if (previous != nullptr) {
      for (auto& row : out["types"].get_array()) {
        const std::string type(row.at("type").get_string());
        json::object rates;
        for (const char* what : {"queued", "done", "retried", "dead"}) {
          rates[what] = static_cast<double>(total_of(&stats, type, what) - total_of(previous, type, what)) / seconds;
        }
        row.get_object()["per_second"] = std::move(rates);
      }
    }
    std::printf("%s\n", json::serialize(out).c_str());
    std::fflush(stdout);
    return;
  }
  std::printf("%-32s %8s %10s %6s %6s %9s", "EVENT TYPE", "QUEUED", "PROCESSING", "RETRY", "DEAD", "OLDEST");
  if (previous != nullptr) std::printf(" %9s %9s", "IN/S", "DONE/S");
  std::printf("\n");
  for (const auto& value : stats.at("types").get_array()) {
    const json::object& row = value.get_object();
    const std::string type(row.at("type").get_string());
    const json::value& oldest = row.at("oldest_age_ms");
    std::printf("%-32s %8lld %10lld %6lld %6lld %9s", type.c_str(), static_cast<long long>(row.at("queued").to_number<std::int64_t>()),
                static_cast<long long>(row.at("processing").to_number<std::int64_t>()),
                static_cast<long long>(row.at("retry").to_number<std::int64_t>()),
                static_cast<long long>(row.at("dead").to_number<std::int64_t>()),
                age_text(oldest.is_null() ? std::nullopt : std::optional<std::int64_t>(oldest.to_number<std::int64_t>())).c_str());
    if (previous != nullptr) {
      std::printf(" %9.1f %9.1f", static_cast<double>(total_of(&stats, type, "queued") - total_of(previous, type, "queued")) / seconds,
                  static_cast<double>(total_of(&stats, type, "done") - total_of(previous, type, "done")) / seconds);
    }
    std::printf("\n");
  }
  const json::array& workers = stats.at("workers").get_array();
  std::printf("\n%-40s %-6s %9s %8s %15s\n", "WORKER", "STATE", "CONSUMERS", "RUNNING", "LAST HEARTBEAT");
  const std::int64_t at = stats.at("at_ms").to_number<std::int64_t>();
  for (const auto& value : workers) {
    const json::object& worker = value.get_object();
    const json::value& beat = worker.at("last_heartbeat_ms");
    const json::value* consumers = worker.if_contains("consumers");
    std::printf("%-40s %-6s %9lld %8lld %15s\n", std::string(worker.at("id").get_string()).c_str(),
                worker.at("alive").as_bool() ? "alive" : "dead",
                static_cast<long long>(consumers != nullptr && consumers->is_int64() ? consumers->get_int64() : 0),
                static_cast<long long>(worker.at("running").to_number<std::int64_t>()),
                beat.is_null() ? "expired" : (age_text(at - beat.to_number<std::int64_t>()) + " ago").c_str());
  }
  if (workers.empty()) std::printf("(no workers registered)\n");
  std::printf("\nrejected requests kept: %lld\n", static_cast<long long>(stats.at("rejected").to_number<std::int64_t>()));
  const json::value& spool = stats.at("spool");
  if (spool.is_null()) {
    std::printf("spool: not visible from here (give --spool-dir or BOARDHOOK_SPOOL_DIR)\n");
  } else {
    const json::value& oldest = spool.at("oldest_age_ms");
    std::printf("spool %s: %lld record(s), %lld bytes, oldest %s\n", std::string(spool.at("dir").get_string()).c_str(),
                static_cast<long long>(spool.at("records").to_number<std::int64_t>()),
                static_cast<long long>(spool.at("bytes").to_number<std::int64_t>()),
                age_text(oldest.is_null() ? std::nullopt : std::optional<std::int64_t>(oldest.to_number<std::int64_t>())).c_str());
  }
  std::fflush(stdout);
}

int Tool::stats() {
  json::object current = collect_stats();
  if (!options_.watch) {
    print_stats(current, nullptr, 0);
    return exit_ok;
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(options_.interval * 1000)));
    json::object next = collect_stats();
    const double seconds = static_cast<double>(next.at("at_ms").to_number<std::int64_t>() - current.at("at_ms").to_number<std::int64_t>()) / 1000.0;
    if (!options_.json) std::printf("\033[H\033[2J%s\n", std::string(next.at("at").get_string()).c_str());
    print_stats(next, &current, seconds > 0 ? seconds : 1);
    current = std::move(next);
  }
}

// Prints raw JSON texts as one JSON array (so `event` bytes stay exactly as stored).
void print_json_array(const std::vector<std::string>& texts) {
  std::string out = "[";
  for (std::size_t i = 0; i < texts.size(); ++i) out += (i ? "," : "") + texts[i];
  out += "]\n";
  std::fputs(out.c_str(), stdout);
}

int Tool::peek() {
  const std::string& type = type_argument();
  const std::size_t n = count_argument(2, 10);
  const std::string queue = core::queue_key(config_.queue_prefix, type);
  std::vector<std::string> envelopes;
  if (options_.newest) {
    envelopes = strings({"LRANGE", queue, "0", std::to_string(n - 1)});
  } else {
    envelopes = strings({"LRANGE", queue, "-" + std::to_string(n), "-1"});
    std::reverse(envelopes.begin(), envelopes.end());  // oldest first
  }
  if (options_.json) {
    print_json_array(envelopes);
  } else {
    std::printf("%-64s %-24s %-12s %-32s %s\n", "ID", "RECEIVED", "TICKET", "DELIVERY", "EVENT BYTES");
    for (const std::string& envelope : envelopes) {
      const auto s = core::parse_envelope(envelope);
      if (!s) {
        std::printf("(not an envelope: %zu bytes)\n", envelope.size());
        continue;
      }
      std::printf("%-64s %-24s %-12s %-32s %zu\n", s->id.c_str(), s->received_at.c_str(), s->ticket_id.value_or("null").c_str(),
                  s->delivery.c_str(), envelope.size());
    }
  }
  return envelopes.empty() ? exit_nothing : exit_ok;
}

int Tool::dead() {
  const std::string& type = type_argument();
  const std::size_t n = count_argument(2, 10);
  const std::vector<std::string> records = strings({"LRANGE", core::dead_key(config_.queue_prefix, type), "0", std::to_string(n - 1)});
  if (options_.json) {
    print_json_array(records);
  } else {
    std::printf("%-24s %-64s %8s %s\n", "FAILED AT", "EVENT ID", "ATTEMPTS", "ERROR");
    for (const std::string& record : records) {
      boost::system::error_code ec;
      const json::value value = json::parse(record, ec);
      const auto envelope = core::dead_record_envelope(record);
      const auto summary = envelope ? core::parse_envelope(*envelope) : std::nullopt;
      if (ec || !value.is_object()) {
        std::printf("(not a dead-letter record: %zu bytes)\n", record.size());
        continue;
      }
      const json::object& o = value.get_object();
      std::printf("%-24s %-64s %8lld %s\n", text_field(o, "failed_at").c_str(), summary ? summary->id.c_str() : "?",
                  number_field(o, "attempts"), text_field(o, "error").c_str());
    }
  }
  return records.empty() ? exit_nothing : exit_ok;
}

int Tool::rejected() {
  const std::size_t n = count_argument(1, 10);
  const std::vector<std::string> records = strings({"LRANGE", core::rejected_key(config_.queue_prefix), "0", std::to_string(n - 1)});
  if (options_.json) {
    print_json_array(records);
  } else {
    std::printf("%-24s %-32s %6s %-20s %10s %s\n", "AT", "REQUEST ID", "STATUS", "REASON", "BYTES", "DETAIL");
    for (const std::string& record : records) {
      boost::system::error_code ec;
      const json::value value = json::parse(record, ec);
      if (ec || !value.is_object()) {
        std::printf("(not a rejected-request record: %zu bytes)\n", record.size());
        continue;
      }
      const json::object& o = value.get_object();
      std::printf("%-24s %-32s %6lld %-20s %10lld %s\n", text_field(o, "at").c_str(), text_field(o, "request_id").c_str(),
                  number_field(o, "status"), text_field(o, "reason").c_str(), number_field(o, "body_bytes"),
                  text_field(o, "detail").c_str());
    }
  }
  return records.empty() ? exit_nothing : exit_ok;
}

// Moves one dead letter back to the consuming end of its queue, only if it is still there.
constexpr const char* requeue_script =
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "  redis.call('HDEL', KEYS[3], ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

int Tool::requeue() {
  const std::string& type = type_argument();
  require_yes("requeue");
  const std::string& prefix = config_.queue_prefix;
  const std::string dead_list = core::dead_key(prefix, type);
  const std::string queue = core::queue_key(prefix, type);
  const std::string attempts = core::attempts_key(prefix, type);
  std::size_t moved = 0;
  for (const std::string& record : strings({"LRANGE", dead_list, "0", "-1"})) {
    const auto envelope = core::dead_record_envelope(record);
    const auto summary = envelope ? core::parse_envelope(*envelope) : std::nullopt;
    if (!summary || (!options_.id.empty() && summary->id != options_.id)) continue;
    moved += static_cast<std::size_t>(integer({"EVAL", requeue_script, "3", dead_list, queue, attempts, record, *envelope, summary->id}));
  }
  if (options_.json) std::printf("{\"requeued\":%zu}\n", moved);
  else std::printf("requeued %zu dead letter(s) of %s to %s\n", moved, type.c_str(), queue.c_str());
  return moved == 0 ? exit_nothing : exit_ok;
}

int Tool::purge_dead() {
  const std::string& type = type_argument();
  require_yes("purge-dead");
  const std::string dead_list = core::dead_key(config_.queue_prefix, type);
  const io::RedisReply reply = call({"EVAL", "local n = redis.call('LLEN', KEYS[1]) redis.call('DEL', KEYS[1]) return n", "1", dead_list});
  const long long purged = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
  if (options_.json) std::printf("{\"purged\":%lld}\n", purged);
  else std::printf("purged %lld dead letter(s) of %s\n", purged, type.c_str());
  return purged == 0 ? exit_nothing : exit_ok;
}

int Tool::replay_rejected() {
  if (options_.id.empty()) throw Failure{exit_usage, "replay-rejected needs --id REQUEST_ID"};
  require_yes("replay-rejected");
  const std::string rejected_list = core::rejected_key(config_.queue_prefix);
  for (const std::string& text : strings({"LRANGE", rejected_list, "0", "-1"})) {
    const auto record = core::parse_rejected_record(text);
    if (!record || record->request_id != options_.id) continue;
    const core::ReplayDecision replay = core::decide_replay(*record, config_, now_ms());
    if (!replay.store) throw Failure{exit_nothing, "request " + options_.id + " is not replayed: " + replay.refusal};
    core::Transaction transaction = core::transaction_for(*replay.store);
    transaction.commands.push_back({"LREM", rejected_list, "1", text});
    std::string error;
    if (!redis_.run_transaction(transaction.commands, error)) throw Failure{exit_redis, "redis: " + error};
    if (options_.json) std::printf("{\"stored\":%zu,\"queue\":%s}\n", replay.store->envelopes.size(), core::json_string(replay.store->queue_key).c_str());
    else std::printf("request %s replayed: %zu event(s) queued in %s\n", options_.id.c_str(), replay.store->envelopes.size(), replay.store->queue_key.c_str());
    return exit_ok;
  }
  throw Failure{exit_nothing, "no rejected request with id " + options_.id};
}

int Tool::run() {
  const std::string& command = options_.words[0];
  if (command == "stats") return stats();
  if (command == "peek") return peek();
  if (command == "dead") return dead();
  if (command == "rejected") return rejected();
  if (command == "requeue") return requeue();
  if (command == "purge-dead") return purge_dead();
  if (command == "replay-rejected") return replay_rejected();
  throw Failure{exit_usage, "unknown command \"" + command + "\""};
}

using boardhook::io::environment;
using boardhook::io::read_whole_file;

}  // namespace

int main(int argc, char** argv) {
  static constexpr core::OptionSpec table[] = {
      {"--help", false, "-h"},
      {"--json"},
      {"--yes"},
      {"--watch"},
      {"--newest"},
      {"--interval", true},
      {"--id", true},
      {"--spool-dir", true},
  };
  const core::CommandLine line = core::parse_command_line(argc, argv, table);
  Options options;
  // In the order given, so that --help after a mistake does not hide it.
  for (const core::ParsedOption& option : line.options) {
    if (option.name == "--help") {
      std::fputs(usage, stdout);
      return exit_ok;
    }
    if (option.name == "--json") options.json = true;
    else if (option.name == "--yes") options.yes = true;
    else if (option.name == "--watch") options.watch = true;
    else if (option.name == "--newest") options.newest = true;
    else if (option.name == "--id") options.id = option.value;
    else if (option.name == "--spool-dir") options.spool_dir = option.value;
    else if (option.name == "--interval") {
      char* end = nullptr;
      const double seconds = std::strtod(option.value.c_str(), &end);
      if (end == option.value.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds > 86400) {
        std::fprintf(stderr, "boardhook-queues: --interval \"%s\": expected a number of seconds\n%s", option.value.c_str(), usage);
        return exit_usage;
      }
      options.interval = std::max(0.2, seconds);
    }
  }
  if (line.error) {
    std::fprintf(stderr, "boardhook-queues: %s\n%s", line.error->message().c_str(), usage);
    return exit_usage;
  }
  options.words = line.operands;
  if (options.words.empty()) {
    std::fputs(usage, stderr);
    return exit_usage;
  }
  io::init_logging("warn");
  core::Config config;
  try {
    config = core::load_config(environment, read_whole_file, false);
  } catch (const core::ConfigError& error) {
    std::fprintf(stderr, "boardhook-queues: configuration refused: %s\n", error.what());
    return exit_usage;
  }
  try {
    Tool tool(config, std::move(options));
    return tool.run();
  } catch (const Failure& failure) {
    std::fprintf(stderr, "boardhook-queues: %s\n", failure.message.c_str());
    if (failure.code == exit_usage) std::fputs(usage, stderr);
    return failure.code;
  }
}
