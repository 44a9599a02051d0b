// redis_batcher.cpp -- leader/follower group commit of request writes to Redis.
#include "handler/redis_batcher.hpp"

#include <algorithm>

namespace boardhook::handler {

namespace {

std::size_t envelope_bytes(const core::StoreEvents& store) {
  std::size_t bytes = 0;
  for (const std::string& envelope : store.envelopes) bytes += envelope.size();
  return bytes;
}

}  // namespace

RedisBatcher::RedisBatcher(const core::RedisEndpoint& endpoint, int timeout_ms, std::chrono::microseconds batch_wait,
                           std::function<void(std::size_t)> on_batch, std::size_t max_requests, std::size_t max_bytes)
    : batch_wait_(batch_wait),
      on_batch_(std::move(on_batch)),
      max_requests_(std::max<std::size_t>(max_requests, 1)),
      max_bytes_(max_bytes),
      connection_(endpoint, timeout_ms) {}

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

bool RedisBatcher::write(const core::StoreEvents& store, std::string& error, Announcement& announcement) {
  Pending mine{&store, {}, false, false, {}};
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
    if (on_batch_) on_batch_(batch.size());
    lock.lock();
    for (Pending* pending : batch) {
      pending->done = true;
      if (pending != &mine) pending->woken.notify_one();
    }
    leader_active_ = false;
    // The next batch is led by the oldest waiting thread; the others stay asleep.
    if (!waiting_.empty()) waiting_.front()->woken.notify_one();
  }
  if (!mine.stored) error = std::move(mine.error);
  return mine.stored;
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
  const core::BatchTransaction plan = core::batch_transaction_for(stores);

  std::string error;
  const auto replies = connection_.transaction_replies(plan.transaction.commands, error);
  // Which groups had a command fail inside EXEC, with the first error of each.
  std::vector<std::string> group_errors(plan.groups.size());
  for (std::size_t group = 0; replies && group < plan.groups.size(); ++group) {
    for (std::size_t i = plan.groups[group].first_command; i < plan.groups[group].end_command; ++i) {
      if ((*replies)[i].is_error()) {
        group_errors[group] = (*replies)[i].text;
        break;
      }
    }
  }
  for (std::size_t request = 0; request < batch.size(); ++request) {
    Pending& pending = *batch[request];
    pending.error = replies ? group_errors[plan.group_of_request[request]] : error;
    pending.stored = replies && pending.error.empty();
  }
}

}  // namespace boardhook::handler
