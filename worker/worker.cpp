// worker.cpp -- reliable fetch (LMOVE into a processing list), retries through a delay set,
// dead letters, heartbeats, and reclaiming the jobs of workers that died.
#include "worker/worker.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <random>

#include "core/dead_letter.hpp"
#include "core/envelope.hpp"
#include "core/event_type.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
#include "core/rfc3339.hpp"
#include "core/worker_plan.hpp"
#include "io/redis_connection.hpp"
#include "worker/job_runner.hpp"

namespace boardhook::worker {

namespace {

// BLMOVE waits this long, so a stop request is noticed within it.
constexpr int block_seconds = 1;
// How often due retries are moved back to their queues.
constexpr std::chrono::milliseconds retry_poll{250};
// After a stop request, how long an acknowledgement may keep failing before the job is left
// in the processing list for a peer to reclaim.
constexpr std::chrono::seconds ack_patience{10};

// Moves up to 100 due members of a retry set to the consuming end of their queue, atomically,
// so two workers cannot both move one.
constexpr const char* move_due_script =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)\n"
    "for _, item in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], item)\n"
    "  redis.call('RPUSH', KEYS[2], item)\n"
    "end\n"
    "return #due\n";

// Moves one element of a dead worker's processing list back to its queue, only if it is
// still there: two reclaiming workers cannot both requeue it.
constexpr const char* reclaim_script =
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[1])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

// Logs Redis going away and coming back once each, not once per failed call.
void note_redis_state(bool reachable, const std::string& error) {
  static std::atomic<bool> was_reachable{true};
  if (was_reachable.exchange(reachable) == reachable) return;
  if (reachable) spdlog::info("redis reachable again; taking events");
  else spdlog::error("redis unavailable: \"{}\"; waiting and reconnecting with back-off", error);
}

// host:pid:nonce. The nonce tells apart two starts with the same host name and pid (a
// restarted container whose worker is pid 1), so the old start's jobs are still reclaimed.
std::string worker_id() {
  std::mt19937 random{std::random_device{}()};
  char nonce[8];
  std::snprintf(nonce, sizeof nonce, "%06x", static_cast<unsigned>(random() & 0xFFFFFF));
  return host_name() + ":" + std::to_string(getpid()) + ":" + nonce;
}

bool is_string_reply(const io::RedisReply& reply) {
  return reply && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS);
}

}  // namespace

Worker::Worker(const core::Config& config, WorkerOptions options)
    : config_(config), options_(std::move(options)), id_(worker_id()) {
  for (const auto& [type, command] : options_.routes) types_.push_back(type);
}

Worker::~Worker() {
  request_stop();
  for (auto& thread : consumers_) {
    if (thread.joinable()) thread.join();
  }
  if (housekeeper_.joinable()) housekeeper_.join();
}

void Worker::start() {
  housekeeper_ = std::thread([this] { housekeeping(); });
  for (int i = 0; i < options_.concurrency; ++i) consumers_.emplace_back([this, i] { consume(i); });
}

void Worker::request_stop() {
  stopping_ = true;
  wake_.notify_all();
}

bool Worker::sleep_unless_stopping(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

bool Worker::wait() {
  for (auto& thread : consumers_) thread.join();
  consumers_.clear();
  housekeeping_done_ = true;
  wake_.notify_all();
  housekeeper_.join();
  return unacknowledged_.load() == 0;
}

void Worker::consume(int index) {
  const std::string& prefix = config_.queue_prefix;
  const std::string consumer_id = id_ + ":" + std::to_string(index);
  const std::string processing = core::processing_key(prefix, consumer_id);
  // Blocking calls need a socket timeout longer than their own.
  io::RedisConnection redis(config_.redis, std::max(config_.redis_timeout_ms, 1000) + block_seconds * 1000, false);
  std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  std::chrono::milliseconds backoff{100};
  std::size_t rotation = static_cast<std::size_t>(index);

  const auto redis_failed = [&](const std::string& error) {
    note_redis_state(false, error);
    sleep_unless_stopping(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  };

  while (!stopping_) {
    // Take: each type without waiting, then wait on one of them (in turn) for a second.
    std::string envelope, type, error;
    bool failed = false;
    for (std::size_t k = 0; k < types_.size() && envelope.empty(); ++k) {
      const std::string& candidate = types_[(rotation + k) % types_.size()];
      const std::string queue = core::queue_key(prefix, candidate);
      io::RedisReply reply = redis.call({"LMOVE", queue, processing, "RIGHT", "LEFT"}, error);
      if (!reply) { failed = true; break; }
      if (is_string_reply(reply)) { envelope = io::reply_text(*reply); type = candidate; }
    }
    if (!failed && envelope.empty()) {
      const std::string& candidate = types_[rotation++ % types_.size()];
      const std::string queue = core::queue_key(prefix, candidate);
      const std::string wait_seconds = std::to_string(block_seconds);
      io::RedisReply reply = redis.call({"BLMOVE", queue, processing, "RIGHT", "LEFT", wait_seconds}, error);
      if (!reply) failed = true;
      else if (is_string_reply(reply)) { envelope = io::reply_text(*reply); type = candidate; }
    }
    if (failed) {
      redis_failed(error);
      continue;
    }
    note_redis_state(true, {});
    backoff = std::chrono::milliseconds(100);
    if (envelope.empty()) continue;

    ++unacknowledged_;
    if (stopping_) {
      // Taken after the stop request (BLMOVE was already waiting): give it back untouched.
      const std::string queue = core::queue_key(prefix, type);
      io::RedisReply back = redis.call({"EVAL", reclaim_script, "2", processing, queue, envelope}, error);
      if (back && back->type == REDIS_REPLY_INTEGER) --unacknowledged_;
      break;
    }
    const auto summary = core::parse_envelope(envelope);
    std::int64_t attempt = 0;
    std::vector<io::RedisCommand> ack;
    std::string dead_record, due, counter, id;
    // Commands hold views: every string they name must outlive the transaction below.
    const std::string attempts = core::attempts_key(prefix, type);
    const std::string counters = core::counters_key(prefix);
    const std::string dead = core::dead_key(prefix, type);
    const std::string retry = core::retry_key(prefix, type);
    if (summary) {
      id = summary->id;
      // Attempts are counted when they start, so a job that kills its worker still dies out.
      for (;;) {
        io::RedisReply reply = redis.call({"HINCRBY", attempts, id, "1"}, error);
        if (reply && reply->type == REDIS_REPLY_INTEGER) { attempt = reply->integer; break; }
        if (stopping_) break;
        redis_failed(reply ? io::reply_text(*reply) : error);
      }
      if (attempt == 0) continue;  // stopping with Redis away: the job waits for a peer
    }

    core::JobFailure failure;
    bool succeeded = false;
    if (!summary) {
      failure.error = "not a boardhook envelope";
    } else if (attempt > options_.max_attempts) {
      // Earlier attempts never reported back: the job took its workers down with it.
      failure.error = "not run again: " + std::to_string(attempt - 1) + " earlier attempt(s) ended without a result";
    } else {
      const std::map<std::string, std::string> environment = {
          {"BOARDHOOK_EVENT_TYPE", type},
          {"BOARDHOOK_EVENT_ID", summary->id},
          {"BOARDHOOK_ATTEMPT", std::to_string(attempt)},
          {"BOARDHOOK_TICKET_ID", summary->ticket_id.value_or("")},
          {"BOARDHOOK_DELIVERY", summary->delivery},
      };
      const JobResult result = run_job(options_.routes.at(type), envelope, environment, options_.timeout);
      succeeded = result.succeeded;
      failure = result.failure;
    }

    const bool is_dead = !succeeded && (!summary || attempt >= options_.max_attempts);
    ack.push_back({"LREM", processing, "1", envelope});
    if (succeeded) {
      counter = core::counter_field("done", type);
      ack.push_back({"HDEL", attempts, id});
      spdlog::debug("event {} of type {} done (attempt {})", id, core::printable_event_type(type), attempt);
    } else if (is_dead) {
      counter = core::counter_field("dead", type);
      dead_record = core::make_dead_record(envelope, failure, attempt, consumer_id, now_ms());
      ack.push_back({"LPUSH", dead, dead_record});
      if (summary) ack.push_back({"HDEL", attempts, id});
      spdlog::error("event {} of type {} failed for good ({}) after {} attempt(s); moved to {}", id, core::printable_event_type(type), failure.error,
                    attempt, dead);
    } else {
      counter = core::counter_field("retried", type);
      const auto delay = core::retry_delay(attempt, options_.backoff_base, options_.backoff_max, fraction(random));
      due = std::to_string(now_ms() + delay.count());
      ack.push_back({"ZADD", retry, due, envelope});
      std::string_view tail = failure.stderr_tail;
      while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.remove_suffix(1);
      if (tail.size() > 200) tail.remove_prefix(tail.size() - 200);
      spdlog::warn("event {} of type {} failed ({}), attempt {} of {}; retry in {:.1f} s{}{}", id, core::printable_event_type(type), failure.error,
                   attempt, options_.max_attempts, static_cast<double>(delay.count()) / 1000.0,
                   tail.empty() ? "" : "; stderr ends: ", core::to_valid_utf8(tail));
    }
    ack.push_back({"HINCRBY", counters, counter, "1"});

    // The job is acknowledged only when this transaction has run; until then it stays in
    // the processing list, and a peer puts it back in its queue if this worker dies.
    const auto give_up_at = std::chrono::steady_clock::now() + ack_patience;
    for (;;) {
      if (redis.run_transaction(ack, error)) {
        --unacknowledged_;
        break;
      }
      if (stopping_ && std::chrono::steady_clock::now() > give_up_at) {
        spdlog::error("acknowledging event {} failed: \"{}\"; it stays in {} for a peer to requeue", id, error, processing);
        break;
      }
      redis_failed(error);
    }
  }
}

void Worker::housekeeping() {
  const std::string& prefix = config_.queue_prefix;
  io::RedisConnection redis(config_.redis, std::max(config_.redis_timeout_ms, 1000), false);
  const std::string heartbeat = core::heartbeat_key(prefix, id_);
  const std::string workers = core::workers_key(prefix);
  std::string description = "{\"host\":" + core::json_string(host_name()) + ",\"pid\":" + std::to_string(getpid()) +
                            ",\"consumers\":" + std::to_string(options_.concurrency) +
                            ",\"started_at\":" + core::json_string(core::format_rfc3339_ms(now_ms())) + ",\"types\":[";
  for (std::size_t i = 0; i < types_.size(); ++i) description += (i ? "," : "") + core::json_string(types_[i]);
  description += "]}";
  const auto beat_every = options_.heartbeat_timeout / 3;
  auto next_beat = std::chrono::steady_clock::now();
  std::string error;

  while (!housekeeping_done_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_beat) {
      const std::string ttl = std::to_string(options_.heartbeat_timeout.count());
      const std::string stamp = std::to_string(now_ms());
      if (redis.run_transaction({{"SET", heartbeat, stamp, "PX", ttl}, {"HSET", workers, id_, description}}, error)) {
        next_beat = now + beat_every;
        reclaim_dead_peers(redis);
      }
    }
    const std::string now_text = std::to_string(now_ms());
    for (const std::string& type : types_) {
      const std::string retry = core::retry_key(prefix, type);
      const std::string queue = core::queue_key(prefix, type);
      redis.call({"EVAL", move_due_script, "2", retry, queue, now_text}, error);
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, retry_poll, [this] { return housekeeping_done_.load(); });
  }

  if (unacknowledged_.load() == 0) {
    redis.run_transaction({{"DEL", heartbeat}, {"HDEL", workers, id_}}, error);
  }
}

void Worker::reclaim_dead_peers(io::RedisConnection& redis) {
  const std::string& prefix = config_.queue_prefix;
  const std::string workers = core::workers_key(prefix);
  std::string error;
  io::RedisReply all = redis.call({"HGETALL", workers}, error);
  if (!all || all->type != REDIS_REPLY_ARRAY) return;
  for (std::size_t i = 0; i + 1 < all->elements; i += 2) {
    const std::string peer = io::reply_text(*all->element[i]);
    if (peer == id_) continue;
    io::RedisReply alive = redis.call({"EXISTS", core::heartbeat_key(prefix, peer)}, error);
    if (!alive || alive->type != REDIS_REPLY_INTEGER || alive->integer != 0) continue;

    std::int64_t consumers = 1;
    boost::system::error_code ec;
    const auto info = boost::json::parse(io::reply_text(*all->element[i + 1]), ec);
    if (!ec && info.is_object()) {
      if (const auto* value = info.get_object().if_contains("consumers"); value && value->is_int64()) {
        consumers = std::clamp<std::int64_t>(value->get_int64(), 1, 1024);
      }
    }
    std::size_t moved = 0;
    bool complete = true;
    for (std::int64_t c = 0; c < consumers; ++c) {
      const std::string processing = core::processing_key(prefix, peer + ":" + std::to_string(c));
      io::RedisReply jobs = redis.call({"LRANGE", processing, "0", "-1"}, error);
      if (!jobs || jobs->type != REDIS_REPLY_ARRAY) { complete = false; continue; }
      for (std::size_t j = 0; j < jobs->elements; ++j) {
        const std::string envelope = io::reply_text(*jobs->element[j]);
        const auto summary = core::parse_envelope(envelope);
        // Something that is not an envelope cannot name its queue; it goes where people look.
        const std::string target = summary ? core::queue_key(prefix, summary->event_type) : core::dead_key(prefix, "unknown");
        io::RedisReply done = redis.call({"EVAL", reclaim_script, "2", processing, target, envelope}, error);
        if (!done) complete = false;
        else if (done->type == REDIS_REPLY_INTEGER) moved += static_cast<std::size_t>(done->integer);
      }
    }
    if (complete) redis.call({"HDEL", workers, peer}, error);
    if (moved > 0 || complete) {
      spdlog::warn("worker {} stopped beating: {} job(s) it was running moved back to their queues", peer, moved);
    }
  }
}

}  // namespace boardhook::worker
