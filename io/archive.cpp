// archive.cpp -- XRANGE pages of the archive, and replays of archived envelopes.
#include "io/archive.hpp"

#include <algorithm>

#include "core/ingest.hpp"
#include "core/keys.hpp"
#include "io/ingest.hpp"

namespace boardhook::io {

bool read_archive(RedisConnection& redis, const std::string& prefix, const core::ArchiveFilter& filter, bool newest_first,
                  const std::function<bool(const core::ArchivedEvent&)>& take, std::string& error, std::size_t page_size) {
  const std::string key = core::archive_key(prefix), count = std::to_string(page_size);
  // XREVRANGE takes its bounds the other way round; `from` moves page by page.
  std::string from = newest_first ? core::archive_range_end(filter) : core::archive_range_start(filter);
  const std::string to = newest_first ? core::archive_range_start(filter) : core::archive_range_end(filter);
  for (;;) {
    const auto page = redis.call({newest_first ? "XREVRANGE" : "XRANGE", key, from, to, "COUNT", count}, error);
    if (!page) return false;
    if (page->is_error()) {
      error = page->text;
      return false;
    }
    for (const RedisValue& entry : page->elements) {
      if (entry.elements.size() != 2) continue;
      const auto event = core::parse_archive_entry(entry.elements[0].text, entry.elements[1].texts());
      if (event && core::archive_selects(filter, *event) && !take(*event)) return true;
    }
    if (page->elements.size() < page_size) return true;
    from = core::archive_range_after(page->elements.back().elements.at(0).text);
  }
}

std::size_t queue_archived(RedisConnection& redis, const core::Config& config, const std::vector<core::ArchivedEvent>& events,
                           std::string& error, std::size_t batch_size) {
  // Deduplication off: a replay is meant. Archive off: the events are in the archive already.
  const core::IngestOptions options = core::ingest_options(config.queue_prefix, 0, 0);
  std::size_t queued = 0;
  for (std::size_t first = 0; first < events.size(); first += batch_size) {
    const std::size_t last = std::min(events.size(), first + batch_size);
    // One group per type, envelopes in archive order.
    std::vector<core::StoreEvents> stores;
    for (std::size_t i = first; i < last; ++i) {
      const core::ArchivedEvent& event = events[i];
      auto store = std::find_if(stores.begin(), stores.end(), [&](const core::StoreEvents& s) { return s.event_type == event.event_type; });
      if (store == stores.end()) {
        stores.push_back({core::queue_key(config.queue_prefix, event.event_type), core::event_types_key(config.queue_prefix),
                          core::counters_key(config.queue_prefix), event.event_type, {}});
        store = stores.end() - 1;
      }
      store->envelopes.push_back(event.envelope);
    }
    std::vector<const core::StoreEvents*> pointers;
    for (const core::StoreEvents& store : stores) pointers.push_back(&store);
    const core::IngestCommand command = core::ingest_command_for(pointers, options);
    const auto result = run_ingest(redis, command, 0, 0, error);
    if (!result) return queued;
    // A type whose keys hold the wrong kind of value fails alone; the batch's others are queued.
    bool failed = false;
    for (const IngestGroupResult& group : result->groups) {
      if (group.stored) queued += static_cast<std::size_t>(group.queued);
      else if (!failed) error = group.error, failed = true;
    }
    if (failed) return queued;
  }
  return queued;
}

ArchiveReplay replay_archive(RedisConnection& redis, const core::Config& config, core::ArchiveFilter filter, bool dry_run,
                             std::size_t sample_size) {
  ArchiveReplay replay;
  const auto newest = redis.call({"XREVRANGE", core::archive_key(config.queue_prefix), "+", "-", "COUNT", "1"}, replay.error);
  if (!newest || newest->is_error()) {
    if (newest) replay.error = newest->text;
    return replay;
  }
  if (newest->elements.empty()) return replay;  // an empty archive
  filter.last_id = newest->elements[0].elements.at(0).text;
  std::vector<core::ArchivedEvent> batch;
  const auto flush = [&] {
    replay.queued += queue_archived(redis, config, batch, replay.error);
    batch.clear();
    return replay.error.empty();
  };
  const bool read = read_archive(redis, config.queue_prefix, filter, false, [&](const core::ArchivedEvent& event) {
    ++replay.selected;
    if (replay.sample.size() < sample_size) replay.sample.push_back(event);
    if (dry_run) return true;
    batch.push_back(event);
    return batch.size() < 500 || flush();
  }, replay.error);
  if (read && !dry_run && !batch.empty()) flush();
  return replay;
}

}  // namespace boardhook::io
