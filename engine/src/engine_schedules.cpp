// Schedules and slot identity (docs/engine.md, "Slot identity"): a schedule's slots get their
// ids when it is published, a publication group at a time, and keep them for good; extending a
// schedule publishes a group of the days it adds, ending one removes its free slots after a
// day. The region file is the seed: what it lays out is recorded as events on a new store, and
// what it changes against the store is applied at start as the same administration events.
// These take the admin mutex; the booking paths race with them only through the slot words.
#include <slotmatch/static_text.hpp>
#include <unordered_map>

#include "engine_records.hpp"

namespace slotmatch {
namespace {

// A schedule reaches at most this far (two years), so extending and ending stay bounded walks.
constexpr LocalDay schedule_days_max = 2 * 366;
constexpr StaticText schedule_days_text =
    static_text("a schedule spans at most ", static_cast<unsigned>(schedule_days_max), " days");
constexpr int minutes_per_day = 24 * 60;
constexpr std::string_view seed_actor_id = "region-file";
constexpr std::string_view seed_actor_name = "slotmatchd --config (the region file)";

// Two schedules of one resource that share a weekday, overlapping hours and days: the resource
// would be in two places at once (the config loader's rule, held for live ones too).
bool overlap(const Schedule& a, const Schedule& b) {
    return a.resource == b.resource && (a.weekdays & b.weekdays) != 0 && a.from_min < b.to_min &&
           b.from_min < a.to_min && a.valid_from_day <= b.valid_to_day &&
           b.valid_from_day <= a.valid_to_day;
}

// What makes a region-file schedule the same as a stored seed schedule (seed_changes).
struct SeedKey {
    std::uint32_t resource, type;
    std::uint8_t weekdays;
    int from_min, to_min;
    std::int32_t valid_from_day;
    bool operator==(const SeedKey&) const = default;
};
SeedKey seed_key(const Schedule& s) {
    return {s.resource.value, s.type.value, s.weekdays, s.from_min, s.to_min, s.valid_from_day};
}
struct SeedKeyHash {
    std::size_t operator()(const SeedKey& k) const {
        std::uint64_t h = 1469598103934665603ULL;
        for (const std::uint64_t v :
             {std::uint64_t{k.resource}, std::uint64_t{k.type}, std::uint64_t{k.weekdays},
              static_cast<std::uint64_t>(k.from_min), static_cast<std::uint64_t>(k.to_min),
              static_cast<std::uint64_t>(k.valid_from_day)}) {
            h = (h ^ v) * 1099511628211ULL;
        }
        return static_cast<std::size_t>(h);
    }
};

ScheduleFacts facts_of(const ScheduleView& s) {
    ScheduleFacts f;
    f.id = s.id;
    f.weekdays = s.schedule.weekdays;
    f.seed = s.seed;
    f.from_min = static_cast<std::int16_t>(s.schedule.from_min);
    f.to_min = static_cast<std::int16_t>(s.schedule.to_min);
    f.valid_from_day = s.schedule.valid_from_day;
    f.valid_to_day = s.schedule.valid_to_day;
    f.window_days = s.schedule.window_days;
    return f;
}

}  // namespace

Actor Engine::seed_actor(UnitIdx unit) const {
    Actor a;
    a.channel = Channel::staff;
    a.id = ActorText::from(seed_actor_id);
    a.name = ActorName::from(seed_actor_name);
    a.has_unit = true;
    a.unit = unit;
    a.region_admin = true;  // the region file sets region-wide types too (R8)
    return a;
}

void Engine::fill_schedule_event(Event& e, const ScheduleView& s) const {
    e.resource = s.schedule.resource;
    e.type = s.schedule.type;
    e.schedule = facts_of(s);
}

// Checks in ARCHITECTURE.md's order: the request's fields, then who asks, then the schedules
// it would overlap (the caller holds the admin mutex).
Outcome<bool> Engine::check_schedule(const Actor& actor, const Schedule& s,
                                     std::optional<ScheduleId> except) const {
    using Out = Outcome<bool>;
    if (s.resource.value >= catalog_.resources.size()) {
        return Out::refuse(ErrorCode::invalid_request, "resource", "unknown resource");
    }
    const UnitIdx unit = catalog_.resource(s.resource).unit;
    if (auto bad = check_type_in_unit(s.type, unit); !bad.ok()) return bad;
    if ((s.weekdays & 0x7F) == 0 || (s.weekdays & 0x80) != 0) {
        return Out::refuse(ErrorCode::invalid_request, "weekdays", "name at least one weekday");
    }
    if (s.from_min < 0 || s.to_min > minutes_per_day ||
        s.to_min - s.from_min < type_now(s.type).duration_min) {
        return Out::refuse(ErrorCode::invalid_request, "to",
                           "the hours must hold at least one slot of the type");
    }
    if (s.valid_to_day < s.valid_from_day) {
        return Out::refuse(ErrorCode::invalid_request, "valid_to", "before valid_from");
    }
    if (s.window_days < 0 || s.window_days > window_days_max) {
        return Out::refuse(ErrorCode::invalid_request, "window_days",
                           "1 to 366 days, or 0 for the appointment type's");
    }
    // Staff publish at most two years at a time; the region file is trusted as its first
    // group always was (extending a seed schedule at a start may add any number of days).
    if (s.valid_to_day - s.valid_from_day >= schedule_days_max &&
        actor.id.view() != seed_actor_id) {
        return Out::refuse(ErrorCode::invalid_request, "valid_to", schedule_days_text.view());
    }
    // The region file may lay out past days (its first group always did); staff may not.
    if (s.valid_to_day < calendar_.local_day(clock_.now()) && actor.id.view() != seed_actor_id) {
        return Out::refuse(ErrorCode::invalid_request, "valid_to", "the schedule has ended");
    }
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "resource",
                           "only the unit's staff change its schedules");
    }
    for (const ScheduleView& other : schedules_) {
        if (!other.ended && other.id != except && overlap(other.schedule, s)) {
            return Out::refuse(ErrorCode::invalid_request, "resource",
                               "it overlaps another schedule of the resource (end that one "
                               "first)");
        }
    }
    return {};
}

std::optional<SlotId> Engine::orphan_in_the_way(ResourceIdx r, Instant start, Instant end) const {
    std::optional<SlotId> found;
    for_each_overlapping(index_, r, start, end, [&](SlotId s) {
        const SlotRecord& rec = index_.record(s);
        const SlotState state = SlotWord::state(rec.word.load(word_order));
        if (!found && rec.removed.load(word_order) &&
            (state == SlotState::booked || state == SlotState::held)) {
            found = s;
        }
    });
    return found;
}

std::optional<SlotId> Engine::orphan_in_the_way(std::span<const Schedule> schedules) const {
    for (const SlotSeed& seed : expand_group(catalog(), calendar_, schedules, nullptr)) {
        const Instant start{seed.start_s};
        const Instant end{seed.start_s + seed.duration_min * seconds_per_minute};
        if (auto s = orphan_in_the_way(ResourceIdx{seed.resource}, start, end)) return s;
    }
    return std::nullopt;
}

std::optional<SlotId> Engine::lay_out(std::span<const Schedule> schedules,
                                      std::span<const ScheduleId> ids, bool seed,
                                      std::vector<std::size_t>& slots) {
    SM_ASSERT(schedules.size() == ids.size());
    const std::vector<SlotSeed> seeds =
        expand_group(catalog(), calendar_, schedules, index_.size() > 0 ? &index_ : nullptr);
    const auto first = index_.add_group(seeds);
    if (!first) return std::nullopt;
    slots.assign(schedules.size(), 0);
    for (std::size_t i = 0; i < seeds.size(); ++i) {
        ++slots[seeds[i].schedule];
        // A new slot under an active blocking event starts blocked (R14).
        if (active_blocks_per_resource_[seeds[i].resource].load(word_order) != 0) {
            SlotRecord& rec = index_.record(SlotId{first->value + static_cast<std::uint32_t>(i)});
            settle(rec, rec.word.load(word_order));
        }
    }
    for (std::size_t i = 0; i < schedules.size(); ++i) {
        if (ids[i].value == schedules_.size() + 1) {  // a new schedule
            schedules_.push_back({ids[i], schedules[i], seed, false, 0, 0});
            schedules_.back().seed_valid_to = seed ? schedules[i].valid_to_day : 0;
        }
        ScheduleView& s = schedules_[ids[i].value - 1];
        s.slots += slots[i];
        note_day_count(schedules[i].window_days);
        s.schedule.valid_to_day = std::max(s.schedule.valid_to_day, schedules[i].valid_to_day);
    }
    return first;
}

void Engine::note_day_count(int days) {
    if (days > longest_schedule_window_.load(std::memory_order_relaxed)) {
        longest_schedule_window_.store(days, std::memory_order_relaxed);
    }
}

// R10: the schedule's day count, on its slots below `below` (those published later carry the
// count of their own group). Under admin_mutex_, or in recovery.
void Engine::set_day_count(ScheduleView& s, int days, std::size_t below) {
    s.schedule.window_days = static_cast<std::int16_t>(days);
    note_day_count(days);
    for_each_slot_after(s.schedule, s.schedule.valid_from_day - 1, below, [&](SlotId id) {
        index_.record(id).window_days.store(static_cast<std::int16_t>(days),
                                            std::memory_order_relaxed);
    });
}

Outcome<ScheduleView> Engine::set_schedule_day_count(const Actor& actor, ScheduleId id, int days) {
    using Out = Outcome<ScheduleView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (days < 0 || days > window_days_max) {
        return Out::refuse(ErrorCode::invalid_request, "window_days",
                           "1 to 366 days, or 0 for the appointment type's");
    }
    std::lock_guard admin(admin_mutex_);
    if (id.value == 0 || id.value > schedules_.size()) {
        return Out::refuse(ErrorCode::invalid_request, "schedule", "no such schedule");
    }
    ScheduleView& s = schedules_[id.value - 1];
    const UnitIdx unit = catalog_.resource(s.schedule.resource).unit;
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "schedule",
                           "only the unit's staff change its schedules");
    }
    set_day_count(s, days, index_.size());
    Event& e = reservation.event();
    stamp(e, actor, EventKind::schedule_changed, unit);
    fill_schedule_event(e, s);
    e.schedule.group_first = static_cast<std::uint32_t>(index_.size());  // the slots it changed
    reservation.publish();
    return {ErrorCode::ok, {}, {}, s};
}

Outcome<ScheduleView> Engine::note_seed_reach(ScheduleId id, LocalDay day) {
    using Out = Outcome<ScheduleView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    std::lock_guard admin(admin_mutex_);
    if (id.value == 0 || id.value > schedules_.size() || day == 0) {
        return Out::refuse(ErrorCode::invalid_request, "schedule", "no such schedule");
    }
    ScheduleView& s = schedules_[id.value - 1];
    s.seed_valid_to = day;
    const UnitIdx unit = catalog_.resource(s.schedule.resource).unit;
    Event& e = reservation.event();
    stamp(e, seed_actor(unit), EventKind::schedule_changed, unit);
    fill_schedule_event(e, s);
    e.schedule.seed = true;
    e.schedule.day = day;  // not a day count change: recovery sets only the seed's last day
    e.schedule.group_first = static_cast<std::uint32_t>(index_.size());
    reservation.publish();
    return {ErrorCode::ok, {}, {}, s};
}

std::size_t Engine::take_off(SlotId s, Instant now) {
    SlotRecord& rec = index_.record(s);
    rec.removed.store(true, word_order);  // before reading the word; see settle()
    std::uint64_t w = rec.word.load(word_order);
    while (open(w, now)) {
        const std::uint64_t gone = SlotWord::next(w, SlotState::blocked, SlotWord::owner_removed);
        if (rec.word.compare_exchange_weak(w, gone, word_order)) return 1;
    }
    return 0;
}

Outcome<SlotView> Engine::remove_slot(const Actor& actor, SlotId slot) {
    using Out = Outcome<SlotView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (!index_.contains(slot)) {
        return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    }
    SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot",
                           "only the unit's staff change its schedules");
    }
    std::lock_guard admin(admin_mutex_);
    const Instant now = clock_.now();
    if (rec.start_s <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "slot", "the slot has started");
    }
    if (rec.removed.load(word_order)) {
        return Out::refuse(ErrorCode::slot_not_available, "slot", "the slot is removed already");
    }
    const std::uint64_t w = rec.word.load(word_order);
    if (!open(w, now) && SlotWord::state(w) != SlotState::blocked) {
        return Out::refuse(ErrorCode::slot_already_reserved, "slot",
                           "the slot is booked or held: move or cancel that first");
    }
    const SlotSnapshot before = snapshot(slot, w);
    if (take_off(slot, now) == 0) settle(rec, rec.word.load(word_order));  // blocked: removed
    Event& e = reservation.event();
    stamp(e, actor, EventKind::one_slot_removed, unit);
    e.resource = ResourceIdx{rec.resource};
    e.type = TypeIdx{rec.type.load(std::memory_order_relaxed)};
    e.before = before;
    e.after = snapshot(slot, rec.word.load(word_order));
    reservation.publish();
    return {ErrorCode::ok, {}, {}, view(slot)};
}

Outcome<ScheduleView> Engine::publish_schedule(const Actor& actor, const Schedule& schedule) {
    return publish_checked(actor, schedule, false);
}

Outcome<ScheduleView> Engine::publish_checked(const Actor& actor, const Schedule& schedule,
                                              bool seed) {
    using Out = Outcome<ScheduleView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    std::lock_guard admin(admin_mutex_);
    if (auto bad = check_schedule(actor, schedule, std::nullopt); !bad.ok()) {
        return Out::refuse(bad);
    }
    if (orphan_in_the_way({&schedule, 1})) {
        return Out::refuse(ErrorCode::slot_already_reserved, "valid_to", orphan_text);
    }
    const ScheduleId id{static_cast<std::uint32_t>(schedules_.size() + 1)};
    std::vector<std::size_t> slots;
    const auto first = lay_out({&schedule, 1}, {&id, 1}, seed, slots);
    if (!first) return Out::refuse(ErrorCode::overloaded, "", "the slot table is full");
    const ScheduleView& s = schedules_.back();
    Event& e = reservation.event();
    stamp(e, actor, EventKind::schedule_published, catalog_.resource(schedule.resource).unit);
    fill_schedule_event(e, s);
    e.schedule.group_first = first->value;
    e.schedule.group_slots = static_cast<std::uint32_t>(slots[0]);
    e.schedule.group_schedules = 1;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, s};
}

Outcome<ScheduleView> Engine::extend_schedule(const Actor& actor, ScheduleId id,
                                              LocalDay valid_to) {
    using Out = Outcome<ScheduleView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    std::lock_guard admin(admin_mutex_);
    if (id.value == 0 || id.value > schedules_.size() || schedules_[id.value - 1].ended) {
        return Out::refuse(ErrorCode::invalid_request, "schedule", "no such schedule");
    }
    const ScheduleView current = schedules_[id.value - 1];
    if (valid_to <= current.schedule.valid_to_day) {
        return Out::refuse(ErrorCode::invalid_request, "valid_to",
                           "the schedule already reaches that day");
    }
    Schedule added = current.schedule;  // the days it adds, checked as a schedule of their own
    added.valid_from_day =
        std::max(current.schedule.valid_to_day + 1, calendar_.local_day(clock_.now()));
    added.valid_to_day = valid_to;
    if (auto bad = check_schedule(actor, added, id); !bad.ok()) return Out::refuse(bad);
    if (orphan_in_the_way({&added, 1})) {
        return Out::refuse(ErrorCode::slot_already_reserved, "valid_to", orphan_text);
    }
    const bool seed = actor.id.view() == seed_actor_id;  // the region file extends it
    std::vector<std::size_t> slots;
    const auto first = lay_out({&added, 1}, {&id, 1}, seed, slots);
    if (!first) return Out::refuse(ErrorCode::overloaded, "", "the slot table is full");
    ScheduleView& s = schedules_[id.value - 1];
    if (seed) s.seed_valid_to = valid_to;
    Event& e = reservation.event();
    stamp(e, actor, EventKind::schedule_extended, catalog_.resource(s.schedule.resource).unit);
    fill_schedule_event(e, s);
    e.schedule.seed = seed;
    e.schedule.day = added.valid_from_day;
    e.schedule.group_first = first->value;
    e.schedule.group_slots = static_cast<std::uint32_t>(slots[0]);
    e.schedule.group_schedules = 1;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, s};
}

Outcome<ScheduleView> Engine::end_schedule(const Actor& actor, ScheduleId id, LocalDay last_day,
                                           bool accept_orphans,
                                           std::vector<BookingId>& in_the_way) {
    return end_checked(actor, id, last_day, accept_orphans, in_the_way, ScheduleId{}, nullptr);
}

std::unordered_set<std::uint32_t> Engine::spared_slots(const Schedule* spare,
                                                       std::size_t below) const {
    std::unordered_set<std::uint32_t> spared;
    if (spare == nullptr) return spared;
    for_each_slot_after(*spare, spare->valid_from_day - 1, below,
                        [&](SlotId s) { spared.insert(s.value); });
    return spared;
}

bool Engine::reserved_after(const Schedule& s, LocalDay last_day, std::size_t below,
                            const std::unordered_set<std::uint32_t>& spared,
                            std::vector<BookingId>& in_the_way) const {
    const Instant now = clock_.now();
    bool held = false;
    for_each_slot_after(s, last_day, below, [&](SlotId slot) {
        const SlotRecord& rec = index_.record(slot);
        const std::uint64_t w = rec.word.load(word_order);
        if (rec.start_s <= now.value || open(w, now) || spared.contains(slot.value)) return;
        if (SlotWord::state(w) == SlotState::booked)
            in_the_way.push_back(current_id(SlotWord::owner(w)));
        held = held || SlotWord::state(w) == SlotState::held;
    });
    return held || !in_the_way.empty();
}

bool Engine::seed_end_in_the_way(const SeedChange& end, std::vector<BookingId>& in_the_way) const {
    in_the_way.clear();
    if (end.kind != SeedChange::Kind::end) return false;
    std::lock_guard admin(admin_mutex_);
    if (end.id.value == 0 || end.id.value > schedules_.size()) return false;
    const ScheduleView& s = schedules_[end.id.value - 1];
    if (s.ended || end.day >= s.schedule.valid_to_day) return false;
    const Schedule* spare = end.replaced_by.value != 0 ? &end.replacement : nullptr;
    return reserved_after(s.schedule, end.day, index_.size(), spared_slots(spare, index_.size()),
                          in_the_way);
}

Outcome<ScheduleView> Engine::end_checked(const Actor& actor, ScheduleId id, LocalDay last_day,
                                          bool accept_orphans, std::vector<BookingId>& in_the_way,
                                          ScheduleId replaced_by, const Schedule* spare) {
    using Out = Outcome<ScheduleView>;
    in_the_way.clear();
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    std::lock_guard admin(admin_mutex_);
    if (id.value == 0 || id.value > schedules_.size() || schedules_[id.value - 1].ended) {
        return Out::refuse(ErrorCode::invalid_request, "schedule", "no such schedule");
    }
    ScheduleView& s = schedules_[id.value - 1];
    if (last_day >= s.schedule.valid_to_day) {
        return Out::refuse(ErrorCode::invalid_request, "on", "the schedule already ends by then");
    }
    if (!staff_of(actor, catalog_.resource(s.schedule.resource).unit)) {
        return Out::refuse(ErrorCode::unauthorized, "schedule",
                           "only the unit's staff change its schedules");
    }
    const Instant now = clock_.now();
    const std::size_t below = index_.size();
    const auto spared = spared_slots(spare, below);
    if (reserved_after(s.schedule, last_day, below, spared, in_the_way) && !accept_orphans) {
        return Out::refuse(ErrorCode::slot_already_reserved, "on",
                           "booked or held slots lie after that day: move or cancel them first");
    }
    std::size_t removed = 0;
    for_each_slot_after(s.schedule, last_day, below, [&](SlotId slot) {
        if (index_.record(slot).start_s > now.value && !spared.contains(slot.value)) {
            removed += take_off(slot, now);
        }
    });
    const bool seed = actor.id.view() == seed_actor_id;
    s.schedule.valid_to_day = last_day;
    s.ended = last_day < s.schedule.valid_from_day;
    if (seed) s.seed_valid_to = last_day;
    s.removed = removed;
    Event& e = reservation.event();
    stamp(e, actor, EventKind::schedule_ended, catalog_.resource(s.schedule.resource).unit);
    e.time = now;  // slots starting after it were removed: recovery removes the same
    fill_schedule_event(e, s);
    e.schedule.seed = seed;
    e.schedule.day = last_day;
    e.schedule.group_first = static_cast<std::uint32_t>(below);
    e.schedule.group_schedules = replaced_by.value;  // its slots in that pattern were kept
    reservation.publish();
    return {ErrorCode::ok, {}, {}, s};
}

std::vector<ScheduleView> Engine::schedules() const {
    std::lock_guard admin(admin_mutex_);
    return schedules_;
}

std::optional<ScheduleView> Engine::schedule(ScheduleId id) const {
    std::lock_guard admin(admin_mutex_);
    if (id.value == 0 || id.value > schedules_.size()) return std::nullopt;
    return schedules_[id.value - 1];
}

// ---- the region file as the seed ----------------------------------------------------------

namespace {

// An entity's id as the catalog holds it, and how many there are of its kind.
std::string_view entity_id(const Catalog& c, EntityKind kind, std::uint32_t index) {
    switch (kind) {
        case EntityKind::unit:
            return c.units[index].id;
        case EntityKind::resource:
            return c.resources[index].id;
        case EntityKind::type:
            return c.types[index].id;
        case EntityKind::none:
            break;
    }
    return {};
}

std::uint32_t entity_count(const Catalog& c, EntityKind kind) {
    switch (kind) {
        case EntityKind::unit:
            return static_cast<std::uint32_t>(c.units.size());
        case EntityKind::resource:
            return static_cast<std::uint32_t>(c.resources.size());
        case EntityKind::type:
            return static_cast<std::uint32_t>(c.types.size());
        case EntityKind::none:
            break;
    }
    return 0;
}

constexpr EntityKind entity_kinds[] = {EntityKind::unit, EntityKind::resource, EntityKind::type};

bool same_settings(const AppointmentType& a, const AppointmentType& b) {
    return a.web_name == b.web_name && a.web_info == b.web_info &&
           a.web_bookable == b.web_bookable && a.web_cancellable == b.web_cancellable &&
           a.web_rebookable == b.web_rebookable && a.hide_from_patient == b.hide_from_patient &&
           a.window_days == b.window_days;
}

bool same_settings(const WebSettings& a, const WebSettings& b) {
    return a.booking_active == b.booking_active &&
           a.cancel_rebook_active == b.cancel_rebook_active &&
           a.patient_comment == b.patient_comment && a.terms_book == b.terms_book &&
           a.terms_cancel_rebook == b.terms_cancel_rebook;
}

}  // namespace

bool Engine::publish_one(const std::function<void()>& make_room,
                         const std::function<void(Event&)>& fill, std::string& why) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        Reservation reservation(*events_, 1);
        if (reservation.ok()) {
            fill(reservation.event());
            reservation.publish();
            return true;
        }
        make_room();
    }
    why = "the event buffer stays full while the region file's seed is recorded";
    return false;
}

void Engine::lay_out_seed() {
    std::vector<ScheduleId> ids;
    for (std::uint32_t i = 0; i < catalog_.schedules.size(); ++i) ids.push_back(ScheduleId{i + 1});
    std::vector<std::size_t> slots;
    const auto first = lay_out(catalog_.schedules, ids, true, slots);
    SM_ASSERT(first && first->value == 0);  // the index was empty and sized for it
    seed_unrecorded_ = true;
}

bool Engine::record_entities(const std::function<void()>& make_room, std::string& why,
                             std::vector<std::string>* recorded) {
    for (EntityKind kind : entity_kinds) {
        for (std::uint32_t i = entities_recorded_[static_cast<std::size_t>(kind)];
             i < entity_count(catalog_, kind); ++i) {
            const std::string_view id = entity_id(catalog_, kind, i);
            if (!ReasonText::fits(id)) {
                why = std::string(to_string(kind)) + " id " + std::string(id) +
                      " is longer than a stored event keeps (" +
                      std::to_string(ReasonText::capacity()) + " bytes)";
                return false;
            }
            const UnitIdx unit = kind == EntityKind::unit        ? UnitIdx{i}
                                 : kind == EntityKind::resource  ? catalog_.resources[i].unit
                                 : catalog_.types[i].region_wide ? no_unit
                                                                 : catalog_.types[i].unit;
            // The settings the region file gives it, as its seed (the diff of a later start
            // compares against them); a resource has none.
            const ConfigChange* seed = nullptr;
            if (kind != EntityKind::resource) {
                configs_.push_back(
                    {kind, i, true,
                     kind == EntityKind::type ? catalog_.types[i] : AppointmentType{},
                     kind == EntityKind::unit ? catalog_.units[i].web : WebSettings{}});
                seed = &configs_.back();
            }
            const bool ok = publish_one(
                make_room,
                [&](Event& e) {
                    stamp(e, seed_actor(unit), EventKind::entity_recorded, unit);
                    e.entity = kind;
                    if (kind == EntityKind::resource) e.resource = ResourceIdx{i};
                    if (kind == EntityKind::type) e.type = TypeIdx{i};
                    e.reason = ReasonText::from(id);
                    e.config = seed;
                },
                why);
            if (!ok) return false;
            entities_recorded_[static_cast<std::size_t>(kind)] = i + 1;
            if (recorded != nullptr) {
                recorded->push_back(
                    (kind == EntityKind::type ? "appointment type" : std::string(to_string(kind))) +
                    " " + std::string(id));
            }
        }
    }
    return true;
}

bool Engine::record_seed(const std::function<void()>& make_room, std::string& why,
                         std::vector<std::string>* recorded) {
    std::lock_guard admin(admin_mutex_);
    if (!record_entities(make_room, why, recorded)) return false;
    if (!seed_unrecorded_) return true;
    // The first group: the region file's schedules laid out together from id 0 (restore()).
    std::uint32_t seeded = 0, slots = 0;
    for (const ScheduleView& s : schedules_) {
        if (s.seed && s.id.value == seeded + 1) {
            ++seeded;
            slots += static_cast<std::uint32_t>(s.slots);
        }
    }
    for (std::uint32_t i = 0; i < seeded; ++i) {
        const ScheduleView& s = schedules_[i];
        const bool ok = publish_one(
            make_room,
            [&](Event& e) {
                stamp(e, seed_actor(catalog_.resource(s.schedule.resource).unit),
                      EventKind::schedule_published, catalog_.resource(s.schedule.resource).unit);
                fill_schedule_event(e, s);
                e.schedule.group_first = 0;
                e.schedule.group_slots = slots;
                e.schedule.group_schedules = seeded;
            },
            why);
        if (!ok) return false;
    }
    seed_unrecorded_ = false;
    return true;
}

std::vector<SeedChange> Engine::seed_changes() const {
    std::lock_guard admin(admin_mutex_);
    std::vector<SeedChange> changes;
    for (EntityKind kind : entity_kinds) {
        for (std::uint32_t i = entities_recorded_[static_cast<std::size_t>(kind)];
             i < entity_count(catalog_, kind); ++i) {
            SeedChange c;
            c.kind = SeedChange::Kind::record_entity;
            c.entity = kind;
            c.index = i;
            changes.push_back(c);
        }
    }
    // Settings the region file changed since it last gave them (R9).
    const auto settings = [&](EntityKind kind, std::uint32_t i) {
        SeedChange c;
        c.kind = SeedChange::Kind::settings;
        c.entity = kind;
        c.index = i;
        changes.push_back(c);
    };
    // The types the store recorded before this run (a type added during it is in no file, and
    // has no seed to compare).
    for (std::uint32_t t = 0; t < entities_recorded_[static_cast<std::size_t>(EntityKind::type)];
         ++t) {
        if (!same_settings(seed_types_[t], catalog_.types[t])) settings(EntityKind::type, t);
    }
    for (std::uint32_t u = 0; u < entities_recorded_[static_cast<std::size_t>(EntityKind::unit)];
         ++u) {
        if (!same_settings(seed_webs_[u], catalog_.units[u].web)) settings(EntityKind::unit, u);
    }
    // A region-file schedule is the first unmatched stored seed schedule with the same
    // resource, type, days of the week, hours and first day (its key); its last day may have
    // moved. The seed schedules are looked up by key: a national region has 54,423 of them, and
    // comparing each with every one before it took 1.3 s of a start.
    std::unordered_map<SeedKey, std::vector<std::size_t>, SeedKeyHash> by_key;
    for (std::size_t i = 0; i < schedules_.size(); ++i) {
        if (schedules_[i].seed) by_key[seed_key(schedules_[i].schedule)].push_back(i);
    }
    std::unordered_map<SeedKey, std::size_t, SeedKeyHash> taken;  // of each key, in id order
    std::vector<bool> matched(schedules_.size(), false);
    // New schedules publish after every end: a schedule whose hours or days changed is the old
    // one ended and a new one published, over the old one's time.
    std::vector<SeedChange> publishes;
    for (const Schedule& wanted : catalog_.schedules) {
        const SeedKey key = seed_key(wanted);
        const auto same = by_key.find(key);
        const bool found = same != by_key.end() && taken[key] < same->second.size();
        if (found) {
            const std::size_t i = same->second[taken[key]++];
            const ScheduleView& s = schedules_[i];
            matched[i] = true;
            if (wanted.window_days != s.schedule.window_days) {
                changes.push_back({SeedChange::Kind::day_count, wanted, s.id, 0});
            }
            if (wanted.valid_to_day > s.seed_valid_to) {
                changes.push_back(
                    {SeedChange::Kind::extend, s.schedule, s.id, wanted.valid_to_day});
            } else if (wanted.valid_to_day < s.seed_valid_to) {
                changes.push_back({SeedChange::Kind::end, s.schedule, s.id, wanted.valid_to_day});
            }
        }
        if (!found) publishes.push_back({SeedChange::Kind::publish, wanted, {}, 0});
    }
    // An old seed schedule the file no longer has is ended; a new one on the same resource and
    // type over its time replaces it (each new one replaces at most one old one).
    std::vector<bool> replacing(publishes.size(), false);
    for (std::size_t i = 0; i < schedules_.size(); ++i) {
        const ScheduleView& s = schedules_[i];
        if (!s.seed || matched[i] || s.ended) continue;
        SeedChange end{SeedChange::Kind::end, s.schedule, s.id, s.schedule.valid_from_day - 1};
        for (std::size_t p = 0; p < publishes.size(); ++p) {
            const Schedule& next = publishes[p].schedule;
            if (replacing[p] || next.type != s.schedule.type || !overlap(next, s.schedule)) {
                continue;
            }
            replacing[p] = true;
            end.replaced_by = ScheduleId{static_cast<std::uint32_t>(schedules_.size() + p + 1)};
            end.replacement = next;
            break;
        }
        changes.push_back(end);
    }
    changes.insert(changes.end(), publishes.begin(), publishes.end());
    return changes;
}

Outcome<ScheduleView> Engine::apply_seed_change(const SeedChange& c, bool accept_orphans,
                                                std::vector<BookingId>& in_the_way) {
    using Out = Outcome<ScheduleView>;
    if (c.kind == SeedChange::Kind::settings) return apply_seed_settings(c);
    const UnitIdx unit = catalog_.resource(c.schedule.resource).unit;
    switch (c.kind) {
        case SeedChange::Kind::settings:
            break;
        case SeedChange::Kind::record_entity: {
            std::string why;
            std::lock_guard admin(admin_mutex_);
            const bool ok = record_entities([] {}, why, nullptr);
            return ok ? Out{} : Out::refuse(ErrorCode::overloaded, "", "event buffer full");
        }
        case SeedChange::Kind::publish:
            return publish_checked(seed_actor(unit), c.schedule, true);
        case SeedChange::Kind::day_count:
            return set_schedule_day_count(seed_actor(unit), c.id, c.schedule.window_days);
        case SeedChange::Kind::extend: {
            // Only as far as it does not reach already (staff may have extended it live).
            const auto now = schedule(c.id);
            // Or staff ended it whole: the file's extension is recorded, not laid out.
            if (now && (now->ended || now->schedule.valid_to_day >= c.day)) {
                return note_seed_reach(c.id, c.day);
            }
            return extend_schedule(seed_actor(unit), c.id, c.day);
        }
        case SeedChange::Kind::end: {
            const auto now = schedule(c.id);
            if (now && now->schedule.valid_to_day <= c.day) {  // staff ended it earlier
                return note_seed_reach(c.id, c.day);
            }
            return end_checked(seed_actor(unit), c.id, c.day, accept_orphans, in_the_way,
                               c.replaced_by, c.replaced_by.value != 0 ? &c.replacement : nullptr);
        }
    }
    return Out::refuse(ErrorCode::invalid_request, "", "unknown change");
}

}  // namespace slotmatch
