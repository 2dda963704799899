// The slot index: every slot of the region in one table, sharded per (resource, appointment
// type) into lists sorted by start. A slot's state lives in one 64-bit atomic word (state,
// version, owner) changed only by compare-and-swap, so find/hold/book/rebook/cancel need no
// mutex: each change is linearizable at its CAS and the version counter rules out ABA.
// Shard lists are immutable; publishing a slot or moving it to another type replaces a list
// (read-copy-update under the engine's admin mutex) and retires the old one until shutdown.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <slotmatch/assert.hpp>
#include <slotmatch/calendar.hpp>
#include <slotmatch/catalog.hpp>
#include <slotmatch/failpoint.hpp>
#include <slotmatch/types.hpp>
#include <slotmatch/zeroed_memory.hpp>
#include <span>
#include <vector>

namespace slotmatch {

// state (2 bits) | version (22 bits) | owner (40 bits): booking, hold or block record index.
struct SlotWord {
    static constexpr unsigned state_bits = 2;
    static constexpr unsigned version_bits = 22;
    static constexpr unsigned owner_bits = 40;
    static constexpr std::uint64_t version_mask = (std::uint64_t{1} << version_bits) - 1;
    static constexpr std::uint64_t owner_mask = (std::uint64_t{1} << owner_bits) - 1;
    // A blocked slot whose owner is this marker was removed from the schedule (R14), not blocked
    // by a blocking event.
    static constexpr std::uint64_t owner_removed = owner_mask;
    static_assert(state_bits + version_bits + owner_bits == 64);

    static constexpr std::uint64_t make(SlotState s, std::uint32_t version, std::uint64_t owner) {
        return static_cast<std::uint64_t>(s) | ((version & version_mask) << state_bits) |
               ((owner & owner_mask) << (state_bits + version_bits));
    }
    static constexpr SlotState state(std::uint64_t w) { return static_cast<SlotState>(w & 3U); }
    static constexpr std::uint32_t version(std::uint64_t w) {
        return static_cast<std::uint32_t>((w >> state_bits) & version_mask);
    }
    static constexpr std::uint64_t owner(std::uint64_t w) {
        return w >> (state_bits + version_bits);
    }
    // The word after a change: the version always moves on.
    static constexpr std::uint64_t next(std::uint64_t w, SlotState s, std::uint64_t owner) {
        return make(s, version(w) + 1, owner);
    }
};

struct SlotRecord {
    std::atomic<std::uint64_t> word{0};
    std::int64_t start_s = 0;  // Instant
    std::uint32_t resource = 0;
    // Changed only while the slot is claimed through its word (schedule change), so a reader
    // that loaded the word with acquire and later CASes it from that value saw the right type.
    std::atomic<std::uint32_t> type{0};
    std::uint16_t duration_min = 0;
    // R14: the slot's type was removed from the schedule. Set once, for every slot of the type
    // at the time (booked ones included, so that a later cancel removes them); slots published
    // later are not affected. Sits in the record's padding.
    std::atomic<bool> removed{false};
    // R10: the day count of the schedule that laid the slot out; 0: its type's. Set before the
    // slot is published, changed when its schedule's count changes. In the padding too.
    std::atomic<std::int16_t> window_days{0};
};
static_assert(sizeof(SlotRecord) == 32, "a slot record is half a cache line");

// An immutable list of a shard's slots, sorted by start (ties by id).
struct SlotList {
    std::vector<std::int64_t> starts;
    std::vector<SlotId> ids;
};

struct Shard {
    ResourceIdx resource;
    TypeIdx type;
    std::atomic<const SlotList*> list{nullptr};
};

// One slot as laid out by a schedule, before it has an id.
struct SlotSeed {
    std::int64_t start_s;
    std::uint32_t resource;
    std::uint32_t type;
    std::uint16_t duration_min;
    std::int16_t window_days = 0;  // its schedule's day count (R10); 0: the type's
    std::uint32_t schedule = 0;    // which of the group's schedules laid it out
};
// A national region lays 23 M of them out at its start: no padding.
static_assert(sizeof(SlotSeed) == 24);

class SlotIndex;

// A publication group: the slots that `schedules` lay out (local time, daylight saving
// included; see docs/engine.md), in the order they take their ids: by resource, type and
// start. A slot that would overlap an earlier-starting one of the group on its resource, or a
// slot `existing` already holds (removed ones aside), is left out. Slot ids are given a group at a
// time and never change (docs/engine.md, "Slot identity").
std::vector<SlotSeed> expand_group(const Catalog& catalog, const Calendar& calendar,
                                   std::span<const Schedule> schedules,
                                   const SlotIndex* existing = nullptr);
// How many slots the schedules lay out at most (no time zone work: for sizing tables).
std::size_t estimate_slots(const Catalog& catalog, std::span<const Schedule> schedules);
// The group of every schedule of the catalog (its region file).
std::vector<SlotSeed> expand_region(const Catalog& catalog, const Calendar& calendar);

// The facts of one slot as the index contract returns them (a copy).
struct SlotFacts {
    Instant start;
    int duration_min = 0;
    ResourceIdx resource;
    TypeIdx type;
    bool removed = false;
};

// Folds an index's state into one number, the same way for every index (FNV-1a over words).
class StateHasher {
  public:
    void slot(const SlotFacts& f, std::uint64_t word) {
        mix(static_cast<std::uint64_t>(f.start.value));
        mix(static_cast<std::uint64_t>(f.duration_min));
        mix(f.resource.value);
        mix(f.type.value);
        mix(f.removed ? 1 : 0);
        mix(word);
    }
    void shard(ResourceIdx r, TypeIdx t) {
        mix(0xfeedfacecafebeefULL);
        mix(r.value);
        mix(t.value);
    }
    void member(SlotId s) { mix(s.value); }
    std::uint64_t value() const { return h_; }

  private:
    void mix(std::uint64_t v) {
        h_ ^= v;
        h_ *= 1099511628211ULL;
    }
    std::uint64_t h_ = 1469598103934665603ULL;
};

// The index contract, shared with ReferenceIndex (reference_index.hpp) and checked for both by
// one typed test suite and a differential test: size, contains, facts, load, cas,
// mark_removed, types_on, for_each_between (by resource and type), add_slot, move_slot,
// overlapping, state_hash.
class SlotIndex {
  public:
    // An empty index for `resources` resources, with room for `capacity` slots (reserved, and
    // resident only as slots are published: zeroed_memory.hpp).
    SlotIndex(std::size_t resources, std::size_t capacity);
    // The catalog's schedules as the first group, and room for `spare_slots` more slots.
    SlotIndex(const Catalog& catalog, const Calendar& calendar, std::size_t spare_slots);
    ~SlotIndex();
    SlotIndex(const SlotIndex&) = delete;
    SlotIndex& operator=(const SlotIndex&) = delete;

    std::size_t size() const { return count_.load(std::memory_order_acquire); }
    std::size_t capacity() const { return capacity_; }
    // Empties the index and makes room for `capacity` slots. Only before anyone reads it
    // (recovery, on an engine that has served nothing).
    void reset(std::size_t capacity);
    bool contains(SlotId s) const { return s.value < size(); }
    SlotRecord& record(SlotId s) { return slots_[s.value]; }
    const SlotRecord& record(SlotId s) const { return slots_[s.value]; }

    SlotFacts facts(SlotId s) const;
    std::uint64_t load(SlotId s) const {
        return slots_[s.value].word.load(std::memory_order_seq_cst);
    }
    // Compare-and-swap of the slot's state word; on failure `expected` holds the current word.
    bool cas(SlotId s, std::uint64_t& expected, std::uint64_t desired) {
        return slots_[s.value].word.compare_exchange_strong(expected, desired,
                                                            std::memory_order_seq_cst);
    }
    void mark_removed(SlotId s) { slots_[s.value].removed.store(true, std::memory_order_seq_cst); }
    // The appointment types with a shard on resource r, in the order the shards were made.
    std::vector<TypeIdx> types_on(ResourceIdx r) const;
    // A fingerprint of everything the index holds: every slot's facts and word, and every
    // shard's list. Equal states give equal hashes in SlotIndex and ReferenceIndex alike.
    std::uint64_t state_hash() const;

    // The shards of one resource (one per appointment type scheduled on it).
    const std::vector<Shard*>& shards_of(ResourceIdx r) const {
        return *resource_shards_[r.value].load(std::memory_order_acquire);
    }
    Shard* shard(ResourceIdx r, TypeIdx t) const;

    // Visits the slots of a shard with start in [from, to), in start order, until f returns false.
    template <typename F>
    void for_each_between(const Shard& shard, Instant from, Instant to, F&& f) const;
    template <typename F>
    void for_each_between(ResourceIdx r, TypeIdx t, Instant from, Instant to, F&& f) const {
        if (const Shard* s = shard(r, t)) for_each_between(*s, from, to, f);
    }

    // Admin changes: the caller holds the engine's admin mutex.
    // Publishes a group (`seeds` in (resource, type, start) order, as expand_group gives them):
    // the slots take the next ids in that order. The first id, or nothing (and nothing added)
    // when the table has no room for them all.
    std::optional<SlotId> add_group(std::span<const SlotSeed> seeds);
    std::optional<SlotId> add_slot(ResourceIdx r, TypeIdx t, Instant start, int duration_min);
    // Moves a claimed slot (the caller CASed it away from free) to the shard of type `to`,
    // another type than its own.
    void move_slot(SlotId s, TypeIdx to);
    // A slot of resource `r` other than `except` that overlaps [start, end), if any. Removed
    // slots (R14) do not count: their time may be laid out again (a booked one among them is
    // the caller's to refuse, Engine::orphan_in_the_way).
    std::optional<SlotId> overlapping(ResourceIdx r, Instant start, Instant end,
                                      std::optional<SlotId> except) const;

  private:
    SlotIndex(const Catalog& catalog, const Calendar& calendar, std::vector<SlotSeed> seeds,
              std::size_t spare_slots);
    Shard* shard_or_create(ResourceIdx r, TypeIdx t);
    void replace_list(Shard& shard, std::unique_ptr<SlotList> fresh);
    // One shard's part of a group: ids [first, first + n) with their starts, merged into the
    // shard's list (a new shard is made with it). `created` collects shards made here.
    void merge_into_shard(ResourceIdx r, TypeIdx t, std::span<const SlotSeed> run,
                          std::size_t first, std::vector<Shard*>& created);

    std::size_t capacity_ = 0;
    ZeroedArray<SlotRecord> slots_;
    std::atomic<std::size_t> count_{0};
    std::vector<std::unique_ptr<Shard>> shards_;
    std::unique_ptr<std::atomic<const std::vector<Shard*>*>[]> resource_shards_;
    std::size_t resource_count_ = 0;
    // Replaced lists and shard vectors, freed at shutdown (schedule changes are rare).
    std::vector<std::unique_ptr<const SlotList>> retired_lists_;
    std::vector<std::unique_ptr<const std::vector<Shard*>>> retired_vectors_;
};

template <typename F>
void SlotIndex::for_each_between(const Shard& shard, Instant from, Instant to, F&& f) const {
    const SlotList* list = shard.list.load(std::memory_order_acquire);
    auto first = std::lower_bound(list->starts.begin(), list->starts.end(), from.value);
    // A deliberate bug for the differential test to catch: the scan misses its first slot.
    if (SM_MUTANT("index.scan_skips_first") && first != list->starts.end()) ++first;
    for (auto i = static_cast<std::size_t>(first - list->starts.begin()); i < list->ids.size();
         ++i) {
        if (list->starts[i] >= to.value) return;
        if (!f(list->ids[i])) return;
    }
}

}  // namespace slotmatch
