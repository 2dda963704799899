// The reference index: plain, mutex-guarded, obviously correct. Slots in a vector, each
// (resource, type) shard an ordered multimap from start to slot id, and one mutex around
// everything. It keeps the same contract as SlotIndex (see slot_index.hpp) so that one typed
// test suite and a seeded differential test can hold the fast index to it.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <slotmatch/calendar.hpp>
#include <slotmatch/catalog.hpp>
#include <slotmatch/slot_index.hpp>
#include <vector>

namespace slotmatch {

class ReferenceIndex {
  public:
    ReferenceIndex(const Catalog& catalog, const Calendar& calendar, std::size_t spare_slots);

    std::size_t size() const;
    bool contains(SlotId s) const { return s.value < size(); }
    SlotFacts facts(SlotId s) const;
    std::uint64_t load(SlotId s) const;
    bool cas(SlotId s, std::uint64_t& expected, std::uint64_t desired);
    void mark_removed(SlotId s);
    std::vector<TypeIdx> types_on(ResourceIdx r) const;
    std::uint64_t state_hash() const;

    // Visits the shard's slots with start in [from, to) in start order until f returns false.
    // f runs without the lock held, so it may call back into the index.
    template <typename F>
    void for_each_between(ResourceIdx r, TypeIdx t, Instant from, Instant to, F&& f) const {
        for (SlotId s : between(r, t, from, to)) {
            if (!f(s)) return;
        }
    }

    std::optional<SlotId> add_slot(ResourceIdx r, TypeIdx t, Instant start, int duration_min);
    void move_slot(SlotId s, TypeIdx to);
    std::optional<SlotId> overlapping(ResourceIdx r, Instant start, Instant end,
                                      std::optional<SlotId> except) const;

  private:
    struct Slot {
        std::uint64_t word = 0;
        SlotFacts facts;
    };
    using Shard = std::multimap<std::int64_t, SlotId>;  // start → slot
    std::vector<SlotId> between(ResourceIdx r, TypeIdx t, Instant from, Instant to) const;
    Shard& shard_or_create(ResourceIdx r, TypeIdx t);  // the caller holds the lock

    mutable std::mutex mutex_;
    std::vector<Slot> slots_;
    std::size_t capacity_ = 0;
    std::map<std::pair<std::uint32_t, std::uint32_t>, Shard> shards_;
    std::vector<std::vector<TypeIdx>> types_on_;  // per resource, in creation order
};

}  // namespace slotmatch
