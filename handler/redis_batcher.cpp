// redis_batcher.cpp -- leader/follower group commit of request writes to Redis.
#include "handler/redis_batcher.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/keys.hpp"
#include "io/ingest.hpp"
#include "io/log.hpp"

namespace boardhook::handler {

namespace {

std::size_t envelope_bytes(const core::StoreEvents& store) {
  std::size_t bytes = 0;
  for (const std::string& envelope : store.envelopes) bytes += envelope.size();
  return bytes;
}

// Too few replicas confirmed a batch: its events are spooled too (store.cpp). Logged once a
// minute, not per batch.
void pending_unreplicated_warning(std::int64_t replicas) {
  static io::LogThrottle throttle;
  if (throttle.should_log(std::chrono::minutes(1))) {
    spdlog::warn("redis WAIT: only {} replica(s) confirmed a batch in time; its events are also spooled", replicas);
  }
}

}  // namespace

RedisBatcher::RedisBatcher(const core::Config& config, std::function<void(std::size_t, std::int64_t)> on_batch,
                           std::size_t max_requests, std::size_t max_bytes)
    : config_(config),
      batch_wait_(config.redis_batch_wait_us),
      on_batch_(std::move(on_batch)),
      max_requests_(std::max<std::size_t>(max_requests, 1)),
      max_bytes_(max_bytes),
      // WAIT blocks up to its own timeout: the socket's must be longer.
      connection_(config.redis, config.redis_timeout_ms + (config.redis_min_replicas > 0 ? config.redis_wait_timeout_ms : 0)) {}

RedisBatcher::Announcement RedisBatcher::announce() {
  // Without a wait nobody would look at announcements: spare the lock.
  if (batch_wait_.count() == 0) return Announcement();
  std::lock_guard lock(mutex_);
  ++announced_;
  return Announcement(this);
}

void RedisBatcher::Announcement::end() {
  if (batcher_ == nullptr) return;
  std::lock_guard lock(batcher_->mutex_);
  --batcher_->announced_;
  batcher_->wake_leader_if_complete();
  batcher_ = nullptr;
}

void RedisBatcher::wake_leader_if_complete() {
  if (leader_waiting_ && batch_is_complete()) leader_wake_.notify_one();
}

RedisBatcher::Outcome RedisBatcher::write(const core::StoreEvents& store, std::string& error, Announcement& announcement) {
  Pending mine{&store, {}, false, Outcome::failed, {}};
  std::unique_lock lock(mutex_);
  waiting_.push_back(&mine);
  if (announcement.batcher_ == this) {
    announcement.batcher_ = nullptr;
    --announced_;
  }
  wake_leader_if_complete();
  while (!mine.done) {
    if (leader_active_) {
      // Woken when this write is done, or when it is at the front and nobody leads.
      mine.woken.wait(lock);
      continue;
    }
    // Nobody is writing: this thread writes what waits, its own write among it or not (a
    // batch limit may leave it for the next round, which it then leads).
    leader_active_ = true;
    if (!batch_is_complete() && batch_wait_.count() > 0) {
      leader_waiting_ = true;
      leader_wake_.wait_until(lock, std::chrono::steady_clock::now() + batch_wait_, [this] { return batch_is_complete(); });
      leader_waiting_ = false;
    }
    const std::vector<Pending*> batch = take_batch();
    lock.unlock();
    write_batch(batch);
    lock.lock();
    for (Pending* pending : batch) {
      pending->done = true;
      if (pending != &mine) pending->woken.notify_one();
    }
    leader_active_ = false;
    // The next batch is led by the oldest waiting thread; the others stay asleep.
    if (!waiting_.empty()) waiting_.front()->woken.notify_one();
  }
  if (mine.outcome == Outcome::failed) error = std::move(mine.error);
  return mine.outcome;
}

std::vector<RedisBatcher::Pending*> RedisBatcher::take_batch() {
  std::size_t count = 0;
  std::size_t bytes = 0;
  while (count < waiting_.size() && count < max_requests_) {
    const std::size_t next = envelope_bytes(*waiting_[count]->store);
    if (count > 0 && bytes + next > max_bytes_) break;
    bytes += next;
    ++count;
  }
  std::vector<Pending*> batch(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(count));
  waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(count));
  return batch;
}

void RedisBatcher::write_batch(const std::vector<Pending*>& batch) {
  std::vector<const core::StoreEvents*> stores;
  stores.reserve(batch.size());
  for (const Pending* pending : batch) stores.push_back(pending->store);
  const core::IngestCommand command =
      core::ingest_command_for(stores, core::ingest_options(config_.queue_prefix, config_.dedup_seconds, config_.archive_seconds));

  std::string error;
  const auto result = io::run_ingest(connection_, command, config_.redis_min_replicas, config_.redis_wait_timeout_ms, error);
  std::int64_t duplicates = 0;
  for (std::size_t request = 0; request < batch.size(); ++request) {
    Pending& pending = *batch[request];
    if (!result) {
      pending.error = error;
      continue;
    }
    const io::IngestGroupResult& group = result->groups[command.group_of_request[request]];
    if (!group.stored) pending.error = group.error;
    else pending.outcome = result->replicated ? Outcome::stored : Outcome::unreplicated;
  }
  if (result) {
    for (const io::IngestGroupResult& group : result->groups) duplicates += group.duplicates;
    if (!result->replicated) pending_unreplicated_warning(result->replicas);
  }
  if (on_batch_) on_batch_(batch.size(), duplicates);
}

}  // namespace boardhook::handler
