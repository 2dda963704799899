#include <algorithm>
#include <bit>
#include <climits>
#include <map>
#include <numeric>
#include <slotmatch/slot_index.hpp>
#include <span>
#include <utility>
#include <vector>

#include "on_every_core.hpp"

namespace slotmatch {
namespace {

// Schedule → slots: back-to-back slots of the type's duration from `from` to `to` on every
// matching local day, each start converted through the zone (R11: local calendar days),
// written from `out` on (room for estimate_slots of the schedule). How many it wrote.
std::size_t expand(const Catalog& catalog, const Calendar& calendar, const Schedule& schedule,
                   std::uint32_t which, SlotSeed* out) {
    const int duration = catalog.type(schedule.type).duration_min;
    SM_ASSERT(duration > 0);
    std::size_t n = 0;
    const auto add = [&](std::int64_t start) {
        out[n++] = {start, schedule.resource.value, schedule.type.value,
                    static_cast<std::uint16_t>(duration), schedule.window_days, which};
    };
    for (LocalDay day = schedule.valid_from_day; day <= schedule.valid_to_day; ++day) {
        if ((schedule.weekdays & (1U << Calendar::weekday(day))) == 0) continue;
        if (const auto midnight = calendar.steady_midnight(day)) {
            // No clock change this day: each start is the midnight plus its minutes.
            for (int m = schedule.from_min; m + duration <= schedule.to_min; m += duration) {
                add(midnight->value + std::int64_t{m} * seconds_per_minute);
            }
            continue;
        }
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
            add(start->value);
            free_from = start->value + duration * seconds_per_minute;
        }
    }
    return n;
}

// One resource's slots in (start, schedule) order. expand() writes each schedule's slots in
// start order, and `own` holds the resource's schedules' runs one after another, in schedule
// order (`lengths`), so merging them, stably, is enough; a run out of order (none is known)
// is sorted whole instead. Two sorts per resource were a tenth of a national start's work
// (bench/README.md, "Start-up").
void order_by_start(std::span<SlotSeed> own, std::span<const std::size_t> lengths) {
    const auto by_start = [](const SlotSeed& a, const SlotSeed& b) {
        return a.start_s < b.start_s;
    };
    std::size_t at = 0;
    for (const std::size_t n : lengths) {
        if (!std::is_sorted(own.begin() + static_cast<std::ptrdiff_t>(at),
                            own.begin() + static_cast<std::ptrdiff_t>(at + n), by_start)) {
            std::stable_sort(own.begin(), own.end(), [](const SlotSeed& a, const SlotSeed& b) {
                return std::tie(a.start_s, a.schedule) < std::tie(b.start_s, b.schedule);
            });
            return;
        }
        at += n;
    }
    std::size_t merged = 0;
    for (const std::size_t n : lengths) {
        std::inplace_merge(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(merged),
                           own.begin() + static_cast<std::ptrdiff_t>(merged + n), by_start);
        merged += n;
    }
}

// One resource is in one place at a time. The config refuses schedules that overlap on the
// wall clock; across a daylight-saving night two schedules can still meet in real time, and
// then the later-starting slot is left out, and of two starting at once, the one of the
// schedule listed later. `seeds`: one resource's, in (start, schedule) order. Returns how many
// are kept, at the front.
std::size_t drop_overlaps(std::span<SlotSeed> seeds) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < seeds.size(); ++i) {
        if (kept > 0 &&
            seeds[kept - 1].start_s + seeds[kept - 1].duration_min * seconds_per_minute >
                seeds[i].start_s) {
            continue;
        }
        seeds[kept++] = seeds[i];
    }
    return kept;
}

// A resource's slots, in start order, put in (type, start) order: a counting sort by type,
// which keeps the start order within each (a resource has a few types).
void order_by_type(std::span<SlotSeed> own) {
    const auto by_type_start = [](const SlotSeed& a, const SlotSeed& b) {
        return std::tie(a.type, a.start_s) < std::tie(b.type, b.start_s);
    };
    if (std::is_sorted(own.begin(), own.end(), by_type_start)) return;
    std::map<std::uint32_t, std::size_t> first_of;  // type -> its first place
    for (const SlotSeed& s : own) ++first_of[s.type];
    std::size_t at = 0;
    for (auto& [type, n] : first_of) at += std::exchange(n, at);
    std::vector<SlotSeed> sorted(own.size());
    auto last = first_of.begin();
    for (const SlotSeed& s : own) {
        if (last->first != s.type) last = first_of.find(s.type);
        sorted[last->second++] = s;
    }
    std::copy(sorted.begin(), sorted.end(), own.begin());
}

constexpr std::size_t parallel_schedules_min = 64;
constexpr std::size_t parallel_slots_min = std::size_t{1} << 14;

// Spread over the cores with TBB: each schedule expands on its own, straight into its
// resource's run (resources in order, each run's schedules in order, each with room for its
// estimate_slots), and each resource's run is closed up, sorted, cleared of overlaps and
// ordered by (type, start) on its own. Runs are small (a resource's slots), so this beats
// sorting the whole group twice (bench/README.md, "Start-up"). One array holds every slot on
// the way: a vector per schedule and a copy into the group took a national region's 23 M slots
// through twice the memory, and a start from a snapshot, whose heap no YAML parse had grown,
// paid for its first touch.
std::vector<SlotSeed> lay_out(const Catalog& catalog, const Calendar& calendar,
                              std::span<const Schedule> schedules, const SlotIndex* existing,
                              bool parallel) {
    std::size_t resources = 0;
    for (const Schedule& s : schedules) {
        resources = std::max<std::size_t>(resources, std::size_t{s.resource.value} + 1);
    }
    // Where each resource's run starts, and where in it each schedule's room is.
    std::vector<std::size_t> room(schedules.size());
    std::vector<std::size_t> run(resources + 1, 0);
    for (std::size_t i = 0; i < schedules.size(); ++i) {
        room[i] = estimate_slots(catalog, schedules.subspan(i, 1));
        run[schedules[i].resource.value + 1] += room[i];
    }
    std::partial_sum(run.begin(), run.end(), run.begin());
    std::vector<std::size_t> at(schedules.size());
    std::vector<std::vector<std::size_t>> of_resource(resources);  // its schedules, in order
    {
        std::vector<std::size_t> next(run.begin(), run.end() - 1);
        for (std::size_t i = 0; i < schedules.size(); ++i) {
            at[i] = next[schedules[i].resource.value];
            next[schedules[i].resource.value] += room[i];
            of_resource[schedules[i].resource.value].push_back(i);
        }
    }
    std::vector<SlotSeed> seeds(run.back());
    std::vector<std::size_t> laid(schedules.size(), 0);
    each_index(schedules.size(), parallel, [&](std::size_t i) {
        laid[i] = expand(catalog, calendar, schedules[i], static_cast<std::uint32_t>(i),
                         seeds.data() + at[i]);
        SM_ASSERT(laid[i] <= room[i]);
    });
    std::vector<std::size_t> kept(resources, 0);
    each_index(resources, parallel, [&](std::size_t res) {
        // Its schedules' slots closed up at the front of its run.
        std::size_t filled = run[res];
        for (const std::size_t i : of_resource[res]) {
            if (filled != at[i]) {
                std::move(seeds.begin() + static_cast<std::ptrdiff_t>(at[i]),
                          seeds.begin() + static_cast<std::ptrdiff_t>(at[i] + laid[i]),
                          seeds.begin() + static_cast<std::ptrdiff_t>(filled));
            }
            filled += laid[i];
        }
        std::span<SlotSeed> own(seeds.data() + run[res], filled - run[res]);
        std::vector<std::size_t> lengths;
        lengths.reserve(of_resource[res].size());
        for (const std::size_t i : of_resource[res]) lengths.push_back(laid[i]);
        order_by_start(own, lengths);
        own = own.first(drop_overlaps(own));
        if (existing != nullptr) {
            own = own.first(static_cast<std::size_t>(
                std::remove_if(own.begin(), own.end(),
                               [&](const SlotSeed& s) {
                                   const Instant end{s.start_s +
                                                     s.duration_min * seconds_per_minute};
                                   return existing
                                       ->overlapping(ResourceIdx{s.resource}, Instant{s.start_s},
                                                     end, std::nullopt)
                                       .has_value();
                               }) -
                own.begin()));
        }
        // A group's ids follow (resource, type, start), so one shard's slots are adjacent
        // in memory (a resource has one slot at a start by now: the order is total).
        order_by_type(own);
        kept[res] = own.size();
    });
    std::size_t to = 0;
    for (std::size_t res = 0; res < resources; ++res) {
        if (to != run[res])
            std::move(seeds.begin() + static_cast<std::ptrdiff_t>(run[res]),
                      seeds.begin() + static_cast<std::ptrdiff_t>(run[res] + kept[res]),
                      seeds.begin() + static_cast<std::ptrdiff_t>(to));
        to += kept[res];
    }
    seeds.resize(to);
    return seeds;
}

}  // namespace

std::vector<SlotSeed> expand_group(const Catalog& catalog, const Calendar& calendar,
                                   std::span<const Schedule> schedules, const SlotIndex* existing) {
    if (schedules.size() < parallel_schedules_min) {
        return lay_out(catalog, calendar, schedules, existing, false);
    }
    return on_every_core([&] { return lay_out(catalog, calendar, schedules, existing, true); });
}

std::size_t estimate_slots(const Catalog& catalog, std::span<const Schedule> schedules) {
    std::size_t n = 0;
    for (const Schedule& s : schedules) {
        const int duration = catalog.type(s.type).duration_min;
        if (duration <= 0 || s.to_min <= s.from_min || s.valid_to_day < s.valid_from_day) continue;
        const auto days = static_cast<std::size_t>(s.valid_to_day - s.valid_from_day + 1);
        const auto weekdays = static_cast<std::size_t>(std::popcount(s.weekdays));
        n += (days / 7 + 1) * weekdays *
             static_cast<std::size_t>((s.to_min - s.from_min) / duration);
    }
    return n;
}

std::vector<SlotSeed> expand_region(const Catalog& catalog, const Calendar& calendar) {
    return expand_group(catalog, calendar, catalog.schedules);
}

SlotIndex::SlotIndex(std::size_t resources, std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)), slots_(capacity_, Filling::dense), resource_count_(resources) {
    SM_ASSERT(capacity_ < (std::size_t{1} << 32));
    resource_shards_ = std::make_unique<std::atomic<const std::vector<Shard*>*>[]>(resource_count_);
    for (std::size_t r = 0; r < resource_count_; ++r) {
        resource_shards_[r].store(new std::vector<Shard*>(), std::memory_order_release);
    }
}

void SlotIndex::reset(std::size_t capacity) {
    for (auto& s : shards_) delete s->list.load(std::memory_order_relaxed);
    shards_.clear();
    for (std::size_t r = 0; r < resource_count_; ++r) {
        delete resource_shards_[r].exchange(new std::vector<Shard*>(), std::memory_order_acq_rel);
    }
    retired_lists_.clear();
    retired_vectors_.clear();
    count_.store(0, std::memory_order_release);
    capacity_ = std::max<std::size_t>(capacity, 1);
    SM_ASSERT(capacity_ < (std::size_t{1} << 32));
    slots_.reset(capacity_);
}

SlotIndex::SlotIndex(const Catalog& catalog, const Calendar& calendar, std::size_t spare_slots)
    : SlotIndex(catalog, calendar, expand_region(catalog, calendar), spare_slots) {}

SlotIndex::SlotIndex(const Catalog& catalog, const Calendar&, std::vector<SlotSeed> seeds,
                     std::size_t spare_slots)
    : SlotIndex(catalog.resources.size(), seeds.size() + spare_slots) {
    const auto first = add_group(seeds);
    SM_ASSERT(first && first->value == 0);
}

std::optional<SlotId> SlotIndex::add_group(std::span<const SlotSeed> seeds) {
    const std::size_t first = count_.load(std::memory_order_relaxed);
    if (seeds.size() > capacity_ - first) return std::nullopt;
    // On every core: a national region's first group is 23 M records, and writing them first
    // is what makes the table's pages resident (the kernel zeroes each on its first touch).
    const auto write = [&](bool parallel) {
        each_index(seeds.size(), parallel, [&](std::size_t i) {
            SM_ASSERT(seeds[i].resource < resource_count_);
            SM_ASSERT(i == 0 ||
                      std::tie(seeds[i - 1].resource, seeds[i - 1].type, seeds[i - 1].start_s) <
                          std::tie(seeds[i].resource, seeds[i].type, seeds[i].start_s));
            SlotRecord& r = slots_[first + i];
            r.start_s = seeds[i].start_s;
            r.resource = seeds[i].resource;
            r.type.store(seeds[i].type, std::memory_order_relaxed);
            r.duration_min = seeds[i].duration_min;
            r.window_days.store(seeds[i].window_days, std::memory_order_relaxed);
            r.word.store(SlotWord::make(SlotState::free, 0, 0), std::memory_order_relaxed);
        });
    };
    if (seeds.size() < parallel_slots_min) {
        write(false);
    } else {
        on_every_core([&] { write(true); });
    }
    // The records are complete before they count, and before any shard lists them.
    count_.store(first + seeds.size(), std::memory_order_release);
    std::size_t i = 0;
    while (i < seeds.size()) {  // one resource at a time: its new shards join its list once
        const std::uint32_t r = seeds[i].resource;
        std::vector<Shard*> created;
        while (i < seeds.size() && seeds[i].resource == r) {
            std::size_t j = i;
            while (j < seeds.size() && seeds[j].resource == r && seeds[j].type == seeds[i].type) {
                ++j;
            }
            merge_into_shard(ResourceIdx{r}, TypeIdx{seeds[i].type}, seeds.subspan(i, j - i),
                             first + i, created);
            i = j;
        }
        if (!created.empty()) {
            auto grown = std::make_unique<std::vector<Shard*>>(shards_of(ResourceIdx{r}));
            grown->insert(grown->end(), created.begin(), created.end());
            retired_vectors_.emplace_back(
                resource_shards_[r].exchange(grown.release(), std::memory_order_acq_rel));
        }
    }
    return SlotId{static_cast<std::uint32_t>(first)};
}

void SlotIndex::merge_into_shard(ResourceIdx r, TypeIdx t, std::span<const SlotSeed> run,
                                 std::size_t first, std::vector<Shard*>& created) {
    auto fresh = std::make_unique<SlotList>();
    Shard* existing = shard(r, t);
    for (Shard* c : created) {
        if (c->type == t) existing = c;
    }
    const SlotList empty;
    const SlotList& old = existing ? *existing->list.load(std::memory_order_acquire) : empty;
    fresh->starts.reserve(old.starts.size() + run.size());
    fresh->ids.reserve(old.ids.size() + run.size());
    // Both sorted by start; on equal starts the older (smaller) id comes first.
    std::size_t a = 0, b = 0;
    while (a < old.starts.size() || b < run.size()) {
        if (b == run.size() || (a < old.starts.size() && old.starts[a] <= run[b].start_s)) {
            fresh->starts.push_back(old.starts[a]);
            fresh->ids.push_back(old.ids[a++]);
        } else {
            fresh->starts.push_back(run[b].start_s);
            fresh->ids.push_back(SlotId{static_cast<std::uint32_t>(first + b++)});
        }
    }
    if (existing) {
        replace_list(*existing, std::move(fresh));
        return;
    }
    auto shard = std::make_unique<Shard>();
    shard->resource = r;
    shard->type = t;
    shard->list.store(fresh.release(), std::memory_order_release);
    created.push_back(shard.get());
    shards_.push_back(std::move(shard));
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
    const SlotSeed seed{start.value, r.value, t.value, static_cast<std::uint16_t>(duration_min)};
    return add_group({&seed, 1});
}

std::optional<SlotId> SlotIndex::overlapping(ResourceIdx r, Instant start, Instant end,
                                             std::optional<SlotId> except) const {
    constexpr std::int64_t longest_slot_s = slot_duration_min_max * seconds_per_minute;
    std::optional<SlotId> found;
    for (const Shard* s : shards_of(r)) {
        for_each_between(*s, Instant{start.value - longest_slot_s}, end, [&](SlotId id) {
            const SlotRecord& rec = slots_[id.value];
            if (id != except && rec.type.load(std::memory_order_relaxed) == s->type.value &&
                !rec.removed.load(std::memory_order_seq_cst) &&
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
