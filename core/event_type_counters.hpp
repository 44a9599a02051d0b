// event_type_counters.hpp -- counters by event type that several processes update in one shared
// mapping, wait-free: no process ever waits for another's progress, since any of them may be
// killed half-way through an update.
//
// A slot is claimed by one compare-and-swap of the name's 64-bit hash into `key`; the name is
// written after that by whichever process records the type next while it is still unwritten
// (they all write the same bytes), and the count goes up. A process killed between those steps
// leaves a claimed slot that the next process recording that type completes; nobody waits on it.
// Two names with the same 64-bit hash would share a slot (and one label): a chance of about one
// in 2^52 for a full table, accepted.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boardhook::core {

template <std::size_t Slots, std::size_t NameBytes>
struct EventTypeCounters {
  struct Slot {
    std::atomic<std::uint64_t> key;        // 0: free; else the hash of the name (never 0)
    std::atomic<std::uint32_t> name_size;  // 0 until the name is written
    std::atomic<char> name[NameBytes];
    std::atomic<std::uint64_t> count;
  };

  // All zero (as in a fresh anonymous mapping) is the empty table.
  Slot slots[Slots];
  std::atomic<std::uint64_t> other;  // types that found every slot taken by others

  static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<char>::is_always_lock_free,
                "counters shared between processes need lock-free atomics");

  static std::uint64_t key_of(std::string_view name) {
    std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a
    for (const char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return hash == 0 ? 1 : hash;
  }
  static std::size_t home_slot(std::string_view name) { return key_of(name.substr(0, NameBytes)) % Slots; }

  // Adds `events` to `name`'s counter (names longer than NameBytes are cut).
  void add(std::string_view name, std::uint64_t events) {
    name = name.substr(0, NameBytes);
    const std::uint64_t key = key_of(name);
    for (std::size_t probe = 0, index = key % Slots; probe < Slots; ++probe, index = (index + 1) % Slots) {
      Slot& slot = slots[index];
      std::uint64_t found = slot.key.load(std::memory_order_acquire);
      if (found == 0 && slot.key.compare_exchange_strong(found, key, std::memory_order_acq_rel)) found = key;
      if (found != key) continue;
      if (slot.name_size.load(std::memory_order_acquire) == 0) {
        for (std::size_t i = 0; i < name.size(); ++i) slot.name[i].store(name[i], std::memory_order_relaxed);
        slot.name_size.store(static_cast<std::uint32_t>(name.size()), std::memory_order_release);
      }
      slot.count.fetch_add(events, std::memory_order_relaxed);
      return;
    }
    other.fetch_add(events, std::memory_order_relaxed);
  }

  // Every named slot's name and count, in slot order, then "(other)" when anything went there.
  std::vector<std::pair<std::string, std::uint64_t>> snapshot() const {
    std::vector<std::pair<std::string, std::uint64_t>> counts;
    for (const Slot& slot : slots) {
      const std::uint32_t size = slot.name_size.load(std::memory_order_acquire);
      if (size == 0) continue;
      std::string name(size, '\0');
      for (std::size_t i = 0; i < size; ++i) name[i] = slot.name[i].load(std::memory_order_relaxed);
      counts.emplace_back(std::move(name), slot.count.load(std::memory_order_relaxed));
    }
    if (const std::uint64_t rest = other.load(std::memory_order_relaxed); rest > 0) counts.emplace_back("(other)", rest);
    return counts;
  }
};

}  // namespace boardhook::core
