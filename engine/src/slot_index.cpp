#include <algorithm>
#include <climits>
#include <map>
#include <numeric>
#include <slotmatch/slot_index.hpp>

namespace slotmatch {
namespace {

// Schedule → slots: back-to-back slots of the type's duration from `from` to `to` on every
// matching local day, each start converted through the zone (R11: local calendar days).
void expand(const Catalog& catalog, const Calendar& calendar, const Schedule& schedule,
            std::vector<SlotSeed>& out) {
    const int duration = catalog.type(schedule.type).duration_min;
    SM_ASSERT(duration > 0);
    for (LocalDay day = schedule.valid_from_day; day <= schedule.valid_to_day; ++day) {
        if ((schedule.weekdays & (1U << Calendar::weekday(day))) == 0) continue;
        // Starts follow the wall clock. A start in the hour skipped in spring does not exist,
        // a slot must end by the schedule's end in real time, and one that would overlap the
        // one before it (the spring night) is left out.
        const std::int64_t block_end = calendar.at_local(day, schedule.to_min).value;
        std::int64_t free_from = INT64_MIN;
        for (int m = schedule.from_min; m + duration <= schedule.to_min; m += duration) {
            auto start = calendar.existing_local(day, m);
            if (!start || start->value < free_from ||
                start->value + duration * seconds_per_minute > block_end) {
                continue;
            }
            out.push_back({start->value, schedule.resource.value, schedule.type.value,
                           static_cast<std::uint16_t>(duration)});
            free_from = start->value + duration * seconds_per_minute;
        }
    }
}

// One resource is in one place at a time. The config refuses schedules that overlap on the
// wall clock; across a daylight-saving night two schedules can still meet in real time, and
// then the later-starting slot is left out.
void drop_overlaps(std::vector<SlotSeed>& seeds) {
    std::sort(seeds.begin(), seeds.end(), [](const SlotSeed& a, const SlotSeed& b) {
        return std::tie(a.resource, a.start_s) < std::tie(b.resource, b.start_s);
    });
    std::size_t kept = 0;
    for (std::size_t i = 0; i < seeds.size(); ++i) {
        if (kept > 0 && seeds[kept - 1].resource == seeds[i].resource &&
            seeds[kept - 1].start_s + seeds[kept - 1].duration_min * seconds_per_minute >
                seeds[i].start_s) {
            continue;
        }
        seeds[kept++] = seeds[i];
    }
    seeds.resize(kept);
}

}  // namespace

std::vector<SlotSeed> expand_region(const Catalog& catalog, const Calendar& calendar) {
    std::vector<SlotSeed> seeds;
    for (const Schedule& schedule : catalog.schedules) expand(catalog, calendar, schedule, seeds);
    drop_overlaps(seeds);
    // Slot ids follow (resource, type, start), so one shard's slots are adjacent in memory.
    std::sort(seeds.begin(), seeds.end(), [](const SlotSeed& a, const SlotSeed& b) {
        return std::tie(a.resource, a.type, a.start_s) < std::tie(b.resource, b.type, b.start_s);
    });
    return seeds;
}

SlotIndex::SlotIndex(const Catalog& catalog, const Calendar& calendar, std::size_t spare_slots)
    : resource_count_(catalog.resources.size()) {
    const std::vector<SlotSeed> seeds = expand_region(catalog, calendar);
    capacity_ = seeds.size() + spare_slots;
    SM_ASSERT(capacity_ < (std::size_t{1} << 32));
    slots_ = std::make_unique<SlotRecord[]>(capacity_);

    std::vector<std::vector<Shard*>> per_resource(resource_count_);
    std::size_t i = 0;
    while (i < seeds.size()) {
        auto shard = std::make_unique<Shard>();
        shard->resource = ResourceIdx{seeds[i].resource};
        shard->type = TypeIdx{seeds[i].type};
        auto list = std::make_unique<SlotList>();
        for (; i < seeds.size() && seeds[i].resource == shard->resource.value &&
               seeds[i].type == shard->type.value;
             ++i) {
            SlotRecord& r = slots_[i];
            r.start_s = seeds[i].start_s;
            r.resource = seeds[i].resource;
            r.type.store(seeds[i].type, std::memory_order_relaxed);
            r.duration_min = seeds[i].duration_min;
            list->starts.push_back(seeds[i].start_s);
            list->ids.push_back(SlotId{static_cast<std::uint32_t>(i)});
        }
        shard->list.store(list.release(), std::memory_order_relaxed);
        per_resource[shard->resource.value].push_back(shard.get());
        shards_.push_back(std::move(shard));
    }
    count_.store(seeds.size(), std::memory_order_release);
    resource_shards_ = std::make_unique<std::atomic<const std::vector<Shard*>*>[]>(resource_count_);
    for (std::size_t r = 0; r < resource_count_; ++r) {
        auto* v = new std::vector<Shard*>(std::move(per_resource[r]));
        resource_shards_[r].store(v, std::memory_order_release);
    }
}

SlotIndex::~SlotIndex() {
    for (auto& s : shards_) delete s->list.load(std::memory_order_relaxed);
    for (std::size_t r = 0; r < resource_count_; ++r) {
        delete resource_shards_[r].load(std::memory_order_relaxed);
    }
}

SlotFacts SlotIndex::facts(SlotId s) const {
    const SlotRecord& r = slots_[s.value];
    return {Instant{r.start_s}, r.duration_min, ResourceIdx{r.resource},
            TypeIdx{r.type.load(std::memory_order_relaxed)},
            r.removed.load(std::memory_order_seq_cst)};
}

std::vector<TypeIdx> SlotIndex::types_on(ResourceIdx r) const {
    std::vector<TypeIdx> types;
    for (const Shard* s : shards_of(r)) types.push_back(s->type);
    return types;
}

std::uint64_t SlotIndex::state_hash() const {
    StateHasher h;
    for (std::size_t i = 0; i < size(); ++i) {
        const SlotFacts f = facts(SlotId{static_cast<std::uint32_t>(i)});
        h.slot(f, slots_[i].word.load(std::memory_order_seq_cst));
    }
    for (std::uint32_t r = 0; r < resource_count_; ++r) {
        std::vector<TypeIdx> types = types_on(ResourceIdx{r});
        std::sort(types.begin(), types.end());
        for (TypeIdx t : types) {
            h.shard(ResourceIdx{r}, t);
            for_each_between(ResourceIdx{r}, t, Instant{INT64_MIN}, Instant{INT64_MAX},
                             [&](SlotId id) {
                                 h.member(id);
                                 return true;
                             });
        }
    }
    return h.value();
}

Shard* SlotIndex::shard(ResourceIdx r, TypeIdx t) const {
    for (Shard* s : shards_of(r)) {
        if (s->type == t) return s;
    }
    return nullptr;
}

Shard* SlotIndex::shard_or_create(ResourceIdx r, TypeIdx t) {
    if (Shard* s = shard(r, t)) return s;
    auto shard = std::make_unique<Shard>();
    shard->resource = r;
    shard->type = t;
    shard->list.store(new SlotList(), std::memory_order_release);
    auto grown = std::make_unique<std::vector<Shard*>>(shards_of(r));
    grown->push_back(shard.get());
    const std::vector<Shard*>* old =
        resource_shards_[r.value].exchange(grown.release(), std::memory_order_acq_rel);
    retired_vectors_.emplace_back(old);
    shards_.push_back(std::move(shard));
    return shards_.back().get();
}

void SlotIndex::replace_list(Shard& shard, std::unique_ptr<SlotList> fresh) {
    const SlotList* old = shard.list.exchange(fresh.release(), std::memory_order_acq_rel);
    retired_lists_.emplace_back(old);
}

std::optional<SlotId> SlotIndex::add_slot(ResourceIdx r, TypeIdx t, Instant start,
                                          int duration_min) {
    std::size_t n = count_.load(std::memory_order_relaxed);
    if (n >= capacity_) return std::nullopt;
    SlotId id{static_cast<std::uint32_t>(n)};
    SlotRecord& rec = slots_[n];
    rec.start_s = start.value;
    rec.resource = r.value;
    rec.type.store(t.value, std::memory_order_relaxed);
    rec.duration_min = static_cast<std::uint16_t>(duration_min);
    rec.word.store(SlotWord::make(SlotState::free, 0, 0), std::memory_order_relaxed);
    count_.store(n + 1, std::memory_order_release);  // the record is complete before it counts

    Shard& shard = *shard_or_create(r, t);
    const SlotList& old = *shard.list.load(std::memory_order_acquire);
    auto fresh = std::make_unique<SlotList>();
    auto at = static_cast<std::size_t>(
        std::upper_bound(old.starts.begin(), old.starts.end(), start.value) - old.starts.begin());
    fresh->starts = old.starts;
    fresh->ids = old.ids;
    fresh->starts.insert(fresh->starts.begin() + static_cast<std::ptrdiff_t>(at), start.value);
    fresh->ids.insert(fresh->ids.begin() + static_cast<std::ptrdiff_t>(at), id);
    replace_list(shard, std::move(fresh));
    return id;
}

std::optional<SlotId> SlotIndex::overlapping(ResourceIdx r, Instant start, Instant end,
                                             std::optional<SlotId> except) const {
    constexpr std::int64_t longest_slot_s = slot_duration_min_max * seconds_per_minute;
    std::optional<SlotId> found;
    for (const Shard* s : shards_of(r)) {
        for_each_between(*s, Instant{start.value - longest_slot_s}, end, [&](SlotId id) {
            const SlotRecord& rec = slots_[id.value];
            if (id != except && rec.type.load(std::memory_order_relaxed) == s->type.value &&
                rec.start_s + rec.duration_min * seconds_per_minute > start.value) {
                found = id;
                return false;
            }
            return true;
        });
        if (found) return found;
    }
    return std::nullopt;
}

void SlotIndex::move_slot(SlotId s, TypeIdx to) {
    SlotRecord& rec = slots_[s.value];
    ResourceIdx r{rec.resource};
    SM_ASSERT(rec.type.load(std::memory_order_relaxed) != to.value);
    Shard& from = *shard(r, TypeIdx{rec.type.load(std::memory_order_relaxed)});
    Shard& into = *shard_or_create(r, to);

    const SlotList& old_from = *from.list.load(std::memory_order_acquire);
    auto shrunk = std::make_unique<SlotList>();
    for (std::size_t i = 0; i < old_from.ids.size(); ++i) {
        if (old_from.ids[i] == s) continue;
        shrunk->starts.push_back(old_from.starts[i]);
        shrunk->ids.push_back(old_from.ids[i]);
    }
    const SlotList& old_into = *into.list.load(std::memory_order_acquire);
    auto grown = std::make_unique<SlotList>(old_into);
    auto at = static_cast<std::size_t>(
        std::upper_bound(grown->starts.begin(), grown->starts.end(), rec.start_s) -
        grown->starts.begin());
    grown->starts.insert(grown->starts.begin() + static_cast<std::ptrdiff_t>(at), rec.start_s);
    grown->ids.insert(grown->ids.begin() + static_cast<std::ptrdiff_t>(at), s);

    // Readers skip a slot whose type differs from their shard's, so a moment in both lists is
    // harmless; the slot is claimed (not free) throughout anyway.
    rec.type.store(to.value, std::memory_order_relaxed);
    replace_list(into, std::move(grown));
    replace_list(from, std::move(shrunk));
}

}  // namespace slotmatch
