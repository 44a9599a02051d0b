// worker.cpp -- reliable fetch (LMOVE into a processing list), retries through a delay set,
// dead letters, heartbeats, and reclaiming the jobs of workers that died. What to do with an
// event is decided in core/job_outcome.cpp; this file performs it.
#include "worker/worker.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/event_type.hpp"
#include "core/flow.hpp"
#include "core/keys.hpp"
#include "core/ticket_order.hpp"
#include "core/rfc3339.hpp"
#include "core/worker_record.hpp"

namespace boardhook::worker {

namespace {

// BLMOVE waits this long, so a stop request (or a pause) is noticed within it.
constexpr int block_seconds = 1;
// How long a consumer waits before looking again at a paused type, an open circuit, or a full
// in-flight limit.
constexpr std::chrono::milliseconds flow_poll{100};
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

// Moves one element of a processing list back to a queue, only if it is still there: two
// reclaiming workers cannot both requeue it.
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

// The nonce tells apart two starts with the same host name and pid (a restarted container
// whose worker is pid 1), so the old start's jobs are still reclaimed.
std::string new_worker_id() {
  std::mt19937 random{std::random_device{}()};
  return core::make_worker_id(host_name(), getpid(), static_cast<std::uint32_t>(random()));
}

// The last 200 characters of a command's stderr, for a log line.
std::string stderr_ending(std::string_view tail) {
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.remove_suffix(1);
  if (tail.size() > 200) tail.remove_prefix(tail.size() - 200);
  return tail.empty() ? std::string() : "; stderr ends: " + core::to_valid_utf8(tail);
}

}  // namespace

Worker::Worker(const core::Config& config, WorkerOptions options)
    : config_(config),
      options_(std::move(options)),
      id_(new_worker_id()),
      hold_ttl_(core::hold_ttl(options_.retry.backoff_max, options_.timeout, options_.heartbeat_timeout)) {
  for (const Route& route : options_.routes) {
    auto state = std::make_unique<RouteState>();
    state->route = route;
    state->circuit = core::Circuit(options_.circuit);
    routes_.push_back(std::move(state));
  }
  // Each route its own consumers: a destination that hangs ties up its own, never another type's.
  int index = 0;
  for (auto& route : routes_) {
    for (int k = 0; k < options_.concurrency; ++k, ++index) {
      const std::string consumer_id = core::consumer_id(id_, index);
      consumers_.push_back(std::unique_ptr<Consumer>(new Consumer{
          consumer_id, core::processing_key(config_.queue_prefix, consumer_id), *route,
          // Blocking calls need a socket timeout longer than their own.
          io::RedisConnection(config_.redis, std::max(config_.redis_timeout_ms, 1000) + block_seconds * 1000, false),
          make_sender(route->route.destination, options_.http), std::mt19937_64{std::random_device{}()},
          std::chrono::milliseconds(100), 0, true}));
    }
  }
}

Worker::~Worker() {
  request_stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  housekeeping_done_ = true;
  wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
}

void Worker::start() {
  housekeeper_ = std::thread([this] { housekeeping(); });
  for (auto& consumer : consumers_) threads_.emplace_back([this, &consumer = *consumer] { consume(consumer); });
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
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  housekeeping_done_ = true;
  wake_.notify_all();
  housekeeper_.join();
  return unacknowledged_.load() == 0;
}

void Worker::redis_failed(Consumer& consumer, const std::string& error) {
  consumer.check_leftovers = true;
  note_redis_state(false, error);
  sleep_unless_stopping(consumer.backoff);
  consumer.backoff = std::min(consumer.backoff * 2, std::chrono::milliseconds(5000));
}

// Not while the type is paused, nor while its destination's circuit is open.
bool Worker::may_take(Consumer& consumer) {
  if (consumer.route.paused.load()) return false;
  std::lock_guard lock(consumer.route.mutex);
  const bool was_open = consumer.route.circuit.state() == core::Circuit::State::open;
  const bool may = consumer.route.circuit.may_take(std::chrono::steady_clock::now());
  if (was_open && may) {
    spdlog::info("circuit of {} half-open: trying one event", core::printable_event_type(consumer.route.route.type));
    record_changed_ = true;
  }
  return may;
}

// The route's limits across every worker: a slot among its jobs in flight, then a share of its
// rate. False (nothing held) when either says wait.
bool Worker::acquire_flow(Consumer& consumer) {
  const Route& route = consumer.route.route;
  const std::string& prefix = config_.queue_prefix;
  std::string error;
  if (route.max_in_flight) {
    // A slot outlives its job by the kill grace and a margin, and a dead worker's by its lease.
    const std::string lease = std::to_string((options_.timeout + std::chrono::seconds(10)).count());
    const auto slot = consumer.redis.call({"EVAL", core::in_flight_script, "1", core::in_flight_key(prefix, route.type), consumer.id,
                                           std::to_string(*route.max_in_flight), lease}, error);
    if (!slot || slot->is_error()) {
      redis_failed(consumer, slot ? slot->text : error);
      return false;
    }
    if (slot->as_integer() != 1) return false;
  }
  if (route.rate_per_second) {
    char interval[32], burst[32];
    std::snprintf(interval, sizeof interval, "%.6f", core::rate_interval_ms(*route.rate_per_second));
    std::snprintf(burst, sizeof burst, "%.6f", core::rate_burst(*route.rate_per_second));
    const auto wait = consumer.redis.call({"EVAL", core::rate_script, "1", core::rate_key(prefix, route.type), interval, burst}, error);
    if (!wait || wait->is_error() || wait->as_integer().value_or(1) != 0) {
      if (!wait || wait->is_error()) redis_failed(consumer, wait ? wait->text : error);
      else sleep_unless_stopping(std::min(std::chrono::milliseconds(*wait->as_integer()), flow_poll));
      release_flow(consumer);
      return false;
    }
  }
  return true;
}

void Worker::release_flow(Consumer& consumer) {
  const Route& route = consumer.route.route;
  if (!route.max_in_flight) return;
  std::string error;
  consumer.redis.call({"ZREM", core::in_flight_key(config_.queue_prefix, route.type), consumer.id}, error);
}

// The oldest event of the route's queue: at once when there is one, else waiting a second. With
// --order-by ticket an event taken while its ticket's earlier one runs (or waits for a retry) is
// parked behind it in the same step, and the next one is taken.
std::optional<std::string> Worker::take(Consumer& consumer, bool& failed, std::string& error) {
  const std::string& prefix = config_.queue_prefix;
  const std::string& type = consumer.route.route.type;
  const std::string queue = core::queue_key(prefix, type);
  failed = false;
  for (int waited = 0;; ++waited) {
    std::optional<io::RedisValue> reply;
    if (consumer.route.route.order_by_ticket) {
      reply = consumer.redis.call({"EVAL", core::take_ordered_script, "3", queue, consumer.processing, core::held_tickets_key(prefix, type),
                                   core::ticket_hold_key(prefix, type, ""), core::held_key(prefix, type, ""),
                                   std::to_string(hold_ttl_.count())}, error);
    } else {
      reply = consumer.redis.call({"LMOVE", queue, consumer.processing, "RIGHT", "LEFT"}, error);
    }
    // An error reply (NOREPLICAS, READONLY after a failover) is a Redis failure too: the
    // connection has been dropped, and the next try finds the primary.
    if (!reply || reply->is_error()) return error = reply ? reply->text : error, failed = true, std::nullopt;
    if (auto envelope = reply->as_text()) return envelope;
    if (reply->elements.size() == 2) {
      if (reply->elements[0].as_integer() == 1) return reply->elements[1].as_text();
      continue;  // parked behind its ticket: take the next one
    }
    if (waited > 0 || stopping_) return std::nullopt;
    // Wait for an event without taking it (an ordered take must go through the script): a move of
    // the queue's last element onto its own end changes nothing and returns once there is one.
    const std::string block = std::to_string(block_seconds);
    reply = consumer.route.route.order_by_ticket
                ? consumer.redis.call({"BLMOVE", queue, queue, "RIGHT", "RIGHT", block}, error)
                : consumer.redis.call({"BLMOVE", queue, consumer.processing, "RIGHT", "LEFT", block}, error);
    // A BLMOVE waiting on a primary that is demoted ends with -UNBLOCKED: retried on the new one.
    if (!reply || reply->is_error()) return error = reply ? reply->text : error, failed = true, std::nullopt;
    if (!consumer.route.route.order_by_ticket) return reply->as_text();
    if (reply->is_nil()) return std::nullopt;
  }
}

// An event taken but not to be run now (a stop, a pause) goes back to the consuming end of its
// queue untouched.
void Worker::give_back(Consumer& consumer, const std::string& envelope) {
  std::string error;
  const auto back = consumer.redis.call(
      {"EVAL", reclaim_script, "2", consumer.processing, core::queue_key(config_.queue_prefix, consumer.route.route.type), envelope},
      error);
  if (back && back->as_integer()) --consumer.unsettled;
}

// What is in this consumer's processing list while it holds nothing goes back to the consuming end
// of its queue: a move it gave up on (a BLMOVE cut off by a network partition, replayed by the
// kernel after the heal) can land there later, and nobody would ever run it. Returns how many
// elements are left in the list; nullopt when Redis did not answer.
std::optional<std::size_t> Worker::return_leftovers(Consumer& consumer) {
  const std::string& prefix = config_.queue_prefix;
  std::string error;
  const auto held = consumer.redis.call({"LRANGE", consumer.processing, "0", "-1"}, error);
  if (!held || held->is_error()) return std::nullopt;
  std::size_t left = 0;
  for (const std::string& envelope : held->texts()) {
    const auto summary = core::parse_envelope(envelope);
    const std::string target = summary ? core::queue_key(prefix, summary->event_type) : core::dead_key(prefix, "unknown");
    const auto moved = consumer.redis.call({"EVAL", reclaim_script, "2", consumer.processing, target, envelope}, error);
    if (!moved || moved->is_error()) {
      ++left;
      continue;
    }
    if (moved->as_integer() == 1) {
      spdlog::warn("event {} was in consumer {}'s processing list unheld; put back in its queue",
                   summary ? summary->id : std::string("(not an envelope)"), consumer.id);
    }
  }
  consumer.unsettled = 0;  // whatever it held is back in a queue (or still listed in `left`)
  return left;
}

// Attempts are counted when they start, so a job that kills its worker still dies out.
// Returns 0 when stopping with Redis away: the job then waits for a peer.
std::int64_t Worker::count_attempt(Consumer& consumer, const std::string& attempts_field) {
  const std::string attempts = core::attempts_key(config_.queue_prefix, consumer.route.route.type);
  for (;;) {
    std::string error;
    const auto reply = consumer.redis.call({"HINCRBY", attempts, attempts_field, "1"}, error);
    if (reply && reply->as_integer()) return *reply->as_integer();
    if (stopping_) return 0;
    redis_failed(consumer, reply ? reply->text : error);
  }
}

// The destination's answer goes to its circuit; a failure that opened it (or a failed probe)
// spares the event's attempt: the destination failed, not the event.
core::RunReport Worker::report_to_circuit(RouteState& route, const DeliveryResult& result) {
  core::RunReport report{result.verdict, result.retry_after, false};
  std::lock_guard lock(route.mutex);
  core::Circuit& circuit = route.circuit;
  const std::string type = core::printable_event_type(route.route.type);
  if (!result.destination_down) {
    if (circuit.succeeded()) {
      spdlog::info("circuit of {} closed: its destination answers again", type);
      record_changed_ = true;
    }
    return report;
  }
  const bool changed = circuit.failed(std::chrono::steady_clock::now());
  report.spare_attempt = circuit.last_failure_spared_attempt();
  if (changed) {
    spdlog::warn("circuit of {} open after {} consecutive failure(s) (last: {}); no event taken for {:.1f} s", type,
                 circuit.consecutive_failures(), result.failure.error, static_cast<double>(circuit.current_cooldown().count()) / 1000.0);
    record_changed_ = true;
  }
  return report;
}

void Worker::run_and_settle(Consumer& consumer, const std::string& envelope) {
  const auto summary = core::parse_envelope(envelope);
  std::int64_t attempt = 0;
  if (summary) {
    attempt = count_attempt(consumer, core::attempts_field(*summary));
    if (attempt == 0) return;  // stopping with Redis away: the job waits for a peer
  }
  if (const auto reason = core::reason_not_to_run(summary.has_value(), attempt, options_.retry.max_attempts)) {
    core::JobFailure failure;
    failure.error = *reason;
    std::lock_guard lock(consumer.route.mutex);
    consumer.route.circuit.abandoned();
    settle(consumer, envelope, summary, attempt, {core::DeliveryVerdict::dead, std::nullopt, false}, failure);
    return;
  }
  const DeliveryResult result =
      consumer.sender->send({consumer.route.route.type, *summary, envelope, attempt}, options_.timeout);
  settle(consumer, envelope, summary, attempt, report_to_circuit(consumer.route, result), result.failure);
}

// The job is acknowledged only when this transaction has run; until then it stays in the
// processing list, and a peer puts it back in its queue if this worker dies.
void Worker::settle(Consumer& consumer, const std::string& envelope, const std::optional<core::EnvelopeSummary>& summary,
                    std::int64_t attempt, const core::RunReport& report, const core::JobFailure& failure) {
  const core::JobOutcome outcome = core::decide_after_job(report, summary.has_value(), attempt, options_.retry,
                                                          std::uniform_real_distribution<double>(0.0, 1.0)(consumer.random));
  const std::string id = summary ? summary->id : std::string("?");
  const std::string& event_type = consumer.route.route.type;
  const std::string type = core::printable_event_type(event_type);
  switch (outcome.verdict) {
    case core::Verdict::acknowledge:
      spdlog::debug("event {} of type {} done (attempt {})", id, type, attempt);
      break;
    case core::Verdict::dead:
      spdlog::error("event {} of type {} failed for good ({}) after {} attempt(s); moved to {}", id, type, failure.error,
                    attempt, core::dead_key(config_.queue_prefix, event_type));
      break;
    case core::Verdict::retry:
      spdlog::warn("event {} of type {} failed ({}), attempt {} of {}; retry in {:.1f} s{}", id, type, failure.error, attempt,
                   options_.retry.max_attempts, static_cast<double>(outcome.retry_in.count()) / 1000.0,
                   stderr_ending(failure.stderr_tail));
      break;
    case core::Verdict::give_back:
      spdlog::warn("event {} of type {} failed ({}); its destination's circuit is open, so it waits in its queue with "
                   "its attempt not counted", id, type, failure.error);
      break;
  }
  const std::string attempts_field = summary ? core::attempts_field(*summary) : std::string();
  const std::string ticket = consumer.route.route.order_by_ticket && summary ? summary->ticket_id.value_or("") : std::string();
  const core::HeldJob job{config_.queue_prefix, event_type, consumer.processing, envelope, attempts_field, consumer.id,
                          ticket, hold_ttl_.count()};
  const core::Transaction transaction = core::outcome_transaction(job, outcome, attempt, failure, now_ms());
  const auto give_up_at = std::chrono::steady_clock::now() + ack_patience;
  for (;;) {
    std::string error;
    if (consumer.redis.run_transaction(transaction.commands, error)) {
      --consumer.unsettled;
      return;
    }
    if (stopping_ && std::chrono::steady_clock::now() > give_up_at) {
      spdlog::error("acknowledging event {} failed: \"{}\"; it stays in {} for a peer to requeue", id, error, consumer.processing);
      return;
    }
    redis_failed(consumer, error);
  }
}

void Worker::consume(Consumer& consumer) {
  while (!stopping_) {
    if (consumer.check_leftovers && return_leftovers(consumer) == std::size_t{0}) consumer.check_leftovers = false;
    if (!may_take(consumer)) {
      sleep_unless_stopping(flow_poll);
      continue;
    }
    const auto let_go = [&] {
      std::lock_guard lock(consumer.route.mutex);
      consumer.route.circuit.abandoned();
    };
    if (!acquire_flow(consumer)) {
      let_go();
      sleep_unless_stopping(flow_poll);
      continue;
    }
    bool failed = false;
    std::string error;
    const std::optional<std::string> taken = take(consumer, failed, error);
    if (!failed) {
      note_redis_state(true, {});
      consumer.backoff = std::chrono::milliseconds(100);
    }
    if (failed || !taken) {
      release_flow(consumer);
      let_go();
      if (failed) redis_failed(consumer, error);
      continue;
    }
    ++consumer.unsettled;
    // Taken after a stop request or a pause (BLMOVE was already waiting): back, untouched.
    if (stopping_ || consumer.route.paused.load()) {
      give_back(consumer, *taken);
      release_flow(consumer);
      let_go();
      continue;
    }
    run_and_settle(consumer, *taken);
    release_flow(consumer);
  }
  // Whatever is still in the processing list goes back to its queue now, while this worker can;
  // what cannot (Redis away) stays for a peer to reclaim once this worker's heartbeat expires.
  const auto left = return_leftovers(consumer);
  unacknowledged_ += left ? static_cast<int>(*left) : std::max(consumer.unsettled, 0);
}

// The worker's record: what it serves, and the circuits that are not closed.
void Worker::publish_record(io::RedisConnection& redis) {
  core::WorkerRecord record{host_name(), getpid(), static_cast<int>(consumers_.size()), {}, {}, {}};
  static const std::string started_at = core::format_rfc3339_ms(now_ms());
  record.started_at = started_at;
  for (const auto& route : routes_) {
    record.types.push_back(route->route.type);
    std::lock_guard lock(route->mutex);
    if (route->circuit.state() != core::Circuit::State::closed) {
      record.circuits[route->route.type] = std::string(core::circuit_state_name(route->circuit.state()));
    }
  }
  std::string error;
  if (redis.call({"HSET", core::workers_key(config_.queue_prefix), id_, core::make_worker_record(record)}, error)) {
    record_changed_ = false;
  }
}

// Which of this worker's types are paused (boardhook-queues pause), read four times a second.
void Worker::refresh_paused(io::RedisConnection& redis) {
  std::string error;
  const auto paused = redis.call({"SMEMBERS", core::paused_key(config_.queue_prefix)}, error);
  if (!paused || paused->is_error()) return;
  const std::vector<std::string> types = paused->texts();
  for (auto& route : routes_) {
    const bool now_paused = std::find(types.begin(), types.end(), route->route.type) != types.end();
    if (route->paused.exchange(now_paused) != now_paused) {
      spdlog::info("type {} {}", core::printable_event_type(route->route.type), now_paused ? "paused: no event taken" : "resumed");
    }
  }
}

void Worker::housekeeping() {
  const std::string& prefix = config_.queue_prefix;
  io::RedisConnection redis(config_.redis, std::max(config_.redis_timeout_ms, 1000), false);
  const std::string heartbeat = core::heartbeat_key(prefix, id_);
  const std::string workers = core::workers_key(prefix);
  const auto beat_every = options_.heartbeat_timeout / 3;
  auto next_beat = std::chrono::steady_clock::now();
  std::string error;

  while (!housekeeping_done_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_beat) {
      const std::string ttl = std::to_string(options_.heartbeat_timeout.count());
      if (redis.call({"SET", heartbeat, std::to_string(now_ms()), "PX", ttl}, error)) {
        record_changed_ = true;
        next_beat = now + beat_every;
        reclaim_dead_peers(redis);
      }
    }
    if (record_changed_) publish_record(redis);
    refresh_paused(redis);
    unstick_tickets(redis);
    const std::string now_text = std::to_string(now_ms());
    for (const auto& route : routes_) {
      const std::string& type = route->route.type;
      redis.call({"EVAL", move_due_script, "2", core::retry_key(prefix, type), core::queue_key(prefix, type), now_text}, error);
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, retry_poll, [this] { return housekeeping_done_.load(); });
  }

  if (unacknowledged_.load() == 0) {
    redis.run_transaction({{"DEL", heartbeat}, {"HDEL", workers, id_}}, error);
  }
}

// A ticket whose hold is gone while events wait behind it (its holder purged, the hold expired)
// lets its next event go. Looked at every few seconds, a few hundred tickets at a time.
void Worker::unstick_tickets(io::RedisConnection& redis) {
  static thread_local auto next_look = std::chrono::steady_clock::now();
  if (std::chrono::steady_clock::now() < next_look) return;
  next_look = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  const std::string& prefix = config_.queue_prefix;
  const std::string ttl = std::to_string(hold_ttl_.count());
  for (const auto& route : routes_) {
    if (!route->route.order_by_ticket) continue;
    const std::string& type = route->route.type;
    std::string error;
    const auto tickets = redis.call({"SRANDMEMBER", core::held_tickets_key(prefix, type), "300"}, error);
    if (!tickets || tickets->is_error()) continue;
    for (const std::string& ticket : tickets->texts()) {
      const auto moved = redis.call({"EVAL", core::unstick_script, "4", core::ticket_hold_key(prefix, type, ticket),
                                     core::held_key(prefix, type, ticket), core::queue_key(prefix, type),
                                     core::held_tickets_key(prefix, type), ticket, ttl}, error);
      if (moved && moved->as_integer() == 1) {
        spdlog::warn("ticket {} of type {} had events waiting behind a hold that is gone; the next one goes on", ticket,
                     core::printable_event_type(type));
      }
    }
  }
}

void Worker::reclaim_dead_peers(io::RedisConnection& redis) {
  const std::string& prefix = config_.queue_prefix;
  const std::string workers = core::workers_key(prefix);
  std::string error;
  const auto all = redis.call({"HGETALL", workers}, error);
  if (!all) return;
  const std::vector<std::string> fields = all->texts();
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& peer = fields[i];
    if (peer == id_) continue;
    const auto alive = redis.call({"EXISTS", core::heartbeat_key(prefix, peer)}, error);
    if (!alive || alive->as_integer() != 0) continue;

    const auto record = core::parse_worker_record(fields[i + 1]);
    const int consumers = record ? record->consumers : 1;
    std::size_t moved = 0;
    bool complete = true;
    for (int c = 0; c < consumers; ++c) {
      const std::string processing = core::processing_key(prefix, core::consumer_id(peer, c));
      const auto jobs = redis.call({"LRANGE", processing, "0", "-1"}, error);
      if (!jobs || jobs->is_error()) {
        complete = false;
        continue;
      }
      for (const std::string& envelope : jobs->texts()) {
        const auto summary = core::parse_envelope(envelope);
        // Something that is not an envelope cannot name its queue; it goes where people look.
        const std::string target = summary ? core::queue_key(prefix, summary->event_type) : core::dead_key(prefix, "unknown");
        const auto done = redis.call({"EVAL", reclaim_script, "2", processing, target, envelope}, error);
        if (!done) complete = false;
        else moved += static_cast<std::size_t>(done->as_integer().value_or(0));
      }
    }
    if (complete) redis.call({"HDEL", workers, peer}, error);
    if (moved > 0 || complete) {
      spdlog::warn("worker {} stopped beating: {} job(s) it was running moved back to their queues", peer, moved);
    }
  }
}

}  // namespace boardhook::worker
