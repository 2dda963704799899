#include <algorithm>
#include <climits>
#include <slotmatch/reference_index.hpp>

namespace slotmatch {

ReferenceIndex::ReferenceIndex(const Catalog& catalog, const Calendar& calendar,
                               std::size_t spare_slots)
    : types_on_(catalog.resources.size()) {
    const std::vector<SlotSeed> seeds = expand_region(catalog, calendar);
    capacity_ = seeds.size() + spare_slots;
    for (const SlotSeed& seed : seeds) {
        const SlotId id{static_cast<std::uint32_t>(slots_.size())};
        Slot slot;
        slot.facts = {Instant{seed.start_s}, seed.duration_min, ResourceIdx{seed.resource},
                      TypeIdx{seed.type}, false};
        slots_.push_back(slot);
        shard_or_create(slot.facts.resource, slot.facts.type).emplace(seed.start_s, id);
    }
}

std::size_t ReferenceIndex::size() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

SlotFacts ReferenceIndex::facts(SlotId s) const {
    std::lock_guard lock(mutex_);
    return slots_.at(s.value).facts;
}

std::uint64_t ReferenceIndex::load(SlotId s) const {
    std::lock_guard lock(mutex_);
    return slots_.at(s.value).word;
}

bool ReferenceIndex::cas(SlotId s, std::uint64_t& expected, std::uint64_t desired) {
    std::lock_guard lock(mutex_);
    std::uint64_t& word = slots_.at(s.value).word;
    if (word != expected) {
        expected = word;
        return false;
    }
    word = desired;
    return true;
}

void ReferenceIndex::mark_removed(SlotId s) {
    std::lock_guard lock(mutex_);
    slots_.at(s.value).facts.removed = true;
}

std::vector<TypeIdx> ReferenceIndex::types_on(ResourceIdx r) const {
    std::lock_guard lock(mutex_);
    return types_on_.at(r.value);
}

std::vector<SlotId> ReferenceIndex::between(ResourceIdx r, TypeIdx t, Instant from,
                                            Instant to) const {
    std::lock_guard lock(mutex_);
    std::vector<SlotId> out;
    auto it = shards_.find({r.value, t.value});
    if (it == shards_.end()) return out;
    for (auto s = it->second.lower_bound(from.value); s != it->second.end() && s->first < to.value;
         ++s) {
        out.push_back(s->second);
    }
    return out;
}

ReferenceIndex::Shard& ReferenceIndex::shard_or_create(ResourceIdx r, TypeIdx t) {
    auto [it, made] = shards_.try_emplace({r.value, t.value});
    if (made) types_on_.at(r.value).push_back(t);
    return it->second;
}

std::optional<SlotId> ReferenceIndex::add_slot(ResourceIdx r, TypeIdx t, Instant start,
                                               int duration_min) {
    std::lock_guard lock(mutex_);
    if (slots_.size() >= capacity_) return std::nullopt;
    const SlotId id{static_cast<std::uint32_t>(slots_.size())};
    slots_.push_back(Slot{0, SlotFacts{start, duration_min, r, t, false}});
    shard_or_create(r, t).emplace(start.value, id);  // after equal starts, like upper_bound
    return id;
}

void ReferenceIndex::move_slot(SlotId s, TypeIdx to) {
    std::lock_guard lock(mutex_);
    SlotFacts& f = slots_.at(s.value).facts;
    Shard& from = shards_.at({f.resource.value, f.type.value});
    for (auto it = from.begin(); it != from.end(); ++it) {
        if (it->second == s) {
            from.erase(it);
            break;
        }
    }
    f.type = to;
    shard_or_create(f.resource, to).emplace(f.start.value, s);
}

std::optional<SlotId> ReferenceIndex::overlapping(ResourceIdx r, Instant start, Instant end,
                                                  std::optional<SlotId> except) const {
    std::lock_guard lock(mutex_);
    for (TypeIdx t : types_on_.at(r.value)) {
        for (const auto& [slot_start, id] : shards_.at({r.value, t.value})) {
            const SlotFacts& f = slots_[id.value].facts;
            if (id != except && !f.removed && slot_start < end.value &&
                start.value < slot_start + f.duration_min * seconds_per_minute) {
                return id;
            }
        }
    }
    return std::nullopt;
}

std::uint64_t ReferenceIndex::state_hash() const {
    StateHasher h;
    {
        std::lock_guard lock(mutex_);
        for (const Slot& s : slots_) h.slot(s.facts, s.word);
    }
    for (std::uint32_t r = 0; r < types_on_.size(); ++r) {
        std::vector<TypeIdx> types = types_on(ResourceIdx{r});
        std::sort(types.begin(), types.end());
        for (TypeIdx t : types) {
            h.shard(ResourceIdx{r}, t);
            for (SlotId id : between(ResourceIdx{r}, t, Instant{INT64_MIN}, Instant{INT64_MAX})) {
                h.member(id);
            }
        }
    }
    return h.value();
}

}  // namespace slotmatch
