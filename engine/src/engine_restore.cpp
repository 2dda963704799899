// Recovery: the engine's state rebuilt from its stored events, when slotmatchd starts from a
// store, and the state fingerprint that shows the rebuilt state equals the one before.
//
// Events are numbered when the journal drains the event lanes. With several worker threads, two
// changes of one slot or one booking can be numbered in another order than they happened, so
// recovery does not trust the numbering where the engine records the order itself:
// - a slot ends in the state of its snapshot with the newest version (the slot word's version
//   moves on with every CAS, so it orders the changes of one slot);
// - a booking or hold is live when its slot's final state names its id; a record's generation
//   is the newest any stored id names, moved on once if that booking or hold has ended, so old
//   ids stay refused and new ids never repeat them;
// - a blocking event is active unless an event unblocked it;
// - published slots are re-added in the order of their ids.
// Type removals and the waitlist follow sequence order. Those changes take the admin mutex or a
// patient's claim, and with one thread (the default) sequence order is the order of changes.
// docs/engine.md has the details.
#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <slotmatch/event_fold.hpp>

#include "engine_records.hpp"
#include "on_every_core.hpp"

namespace slotmatch {
namespace {

// A word at a time: the state is xored in and then multiplied by an odd constant and
// xor-shifted, both bijections, so a change of any one word always changes the value. The
// byte-at-a-time FNV-1a it replaces was a tenth of a national start (bench/README.md).
class Fingerprint {
  public:
    void mix(std::uint64_t v) {
        h_ = (h_ ^ v) * 0x9E3779B97F4A7C15ULL;
        h_ ^= h_ >> 29;
    }
    void mix(std::string_view s) {
        mix(s.size());
        std::size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, s.data() + i, 8);
            mix(w);
        }
        if (i < s.size()) {
            std::uint64_t w = 0;
            std::memcpy(&w, s.data() + i, s.size() - i);
            mix(w);
        }
    }
    std::uint64_t value() const { return h_; }

  private:
    std::uint64_t h_ = 14695981039346656037ULL;
};

// Counts as handed out every record of `table` that a stored id names (the keys of `seen`): how
// many in `count`; false, saying why, when they do not fit this engine's table.
template <typename Seen, typename Table>
bool hand_out(const Seen& seen, Table& table, const char* what, std::uint64_t& count,
              std::string& why) {
    count = 0;
    for (const auto& entry : seen) count = std::max(count, entry.first + 1);
    if (count > table.capacity()) {
        why = std::string("the store names ") + what + " records beyond this engine's table";
        return false;
    }
    table.skip_to(count);
    return true;
}

}  // namespace

// The fold of every stored event (event_fold.hpp), or of a snapshot's (`base`) and the ones
// after it, applied to the engine.
class Engine::Restorer : private EventFold {
  public:
    Restorer(Engine& engine, const FoldState* base)
        : EventFold(base != nullptr ? EventFold(*base) : EventFold()),
          e_(engine),
          base_seq_(base != nullptr ? base->seq : 0),
          last_seq_(base_seq_),
          tail_kept_(base != nullptr) {}
    bool first_pass(const EventScan& scan, std::string& why);
    // The catalog's appointment types numbered as the store numbers them (before anything is
    // laid out: the types added live are in no region file).
    bool number_types(std::string& why);
    bool second_pass(const EventScan& scan, std::string& why);
    bool apply(std::string& why);
    // Engine::prelay: the first group alone, laid out (0 slots when there is no whole one).
    std::size_t lay_out_first_group(std::string& why);
    // The slots the store's publications lay out (ids below this).
    std::size_t slots_stored() const;
    RestoreSummary summary;

  private:
    struct Published {
        SlotId slot;
        ResourceIdx resource;
        TypeIdx type;
        Instant start;
        std::uint64_t seq = 0;
    };
    struct Removal {
        std::uint64_t seq = 0;
        UnitIdx unit;
        TypeIdx type;
        Instant time;
        std::uint32_t below = 0;  // the slots that existed then (0 in stores before groups)
    };
    struct BlockSeen {
        ResourceIdx resource;
        Instant from;
        Instant to;
        bool unblocked = false;
    };
    struct WaitlistChange {
        bool add = true;  // false: the entry ended (booked from the waitlist, R22, or taken off)
        UnitIdx unit;
        TypeIdx type;
        PatientKey patient;
        Instant added_at;
        WaitlistEntryId entry;  // none in stores written before entries were reused
    };
    struct LiveHold {
        SlotId slot;
        PatientKey patient;
        Instant expires_at;
    };
    // A schedule event, as the slot structure needs it.
    struct ScheduleEvent {
        std::uint64_t seq = 0;
        EventKind kind = EventKind::schedule_published;
        ScheduleFacts facts;
        ResourceIdx resource;
        TypeIdx type;
        Instant time;
    };
    // A settings record (entity_recorded: the seed; type_changed, unit_changed), in order.
    struct ConfigSeen {
        EventKind kind = EventKind::type_changed;
        ConfigChange config;
    };
    struct EntitySeen {
        EntityKind kind = EntityKind::none;
        std::uint32_t index = 0;
        std::string id;
        std::uint64_t seq = 0;
    };

    // First pass: one event at a time, into the fold and the maps below.
    void note(const Event& ev);
    void note_block(const Event& ev);
    void note_schedule(const Event& ev);
    // After the snapshot: a booking's or hold's details, for apply_tail (tail_bookings_).
    void keep_details(const Event& ev);
    // The kept details of the bookings and holds that are live, into place.
    void apply_tail();
    // The live hold a held event made (its expiry: the event's, or the TTL in old stores).
    LiveHold live_hold(const Event& held) const;
    // A live booking's details into its record, when the table has room.
    void place(BookingId id, const BookingFields& fields);
    // A slot whose newest snapshot names a booking or hold whose record a newer one reused has
    // seen that one end (its ending event was numbered after the cut): it rests.
    void drop_superseded();
    // The slot's final state names this booking (or hold) (after drop_superseded).
    bool live(BookingId b, SlotId s) const;
    bool live(HoldId h, SlotId s) const;
    // The slot table from the publication groups (or the region file's seed when the store
    // records none), then the schedules' later changes (docs/engine.md, "Slot identity").
    bool apply_structure(std::string& why);
    bool check_entities(std::string& why);
    bool lay_out_group(std::uint32_t first, const std::vector<ScheduleEvent>& group,
                       std::string& why);
    // The schedules a group lays out, as the engine's lay_out takes them; false, saying why,
    // when the group does not fit what was laid out before it (`slots_before` slots and
    // `schedules_before` schedules) or the region file.
    bool group_specs(std::uint32_t first, const std::vector<ScheduleEvent>& group,
                     std::size_t slots_before, std::size_t schedules_before,
                     std::vector<Schedule>& specs, std::vector<ScheduleId>& ids,
                     std::string& why) const;
    // The room the slot index needs for what is stored, the region file's diff at this start
    // and the run's publications.
    std::size_t index_room() const;
    // prelay()'s group is the first group the events record, laid out the same way.
    bool prelaid_is_first_group() const;
    bool lay_out_published(const Published& p, std::string& why);
    // Between publications, in sequence order: the removals made before the next one (it left
    // out only slots that were not removed then), and the types of the slots laid out so far.
    bool apply_removals_before(std::uint64_t seq, std::string& why);
    bool apply_end(const ScheduleEvent& end, std::string& why);
    bool apply_type_removal(const Removal& r, std::string& why);
    bool apply_slot_removal(SlotId s, std::uint64_t seq, std::string& why);
    bool settle_types(std::string& why);
    bool all_laid_out(std::string& why) const;  // no stored slot lies beyond the layout
    bool apply_schedule_days(std::string& why);
    // Each type's and unit's settings as its last changes left them (R9), and its seed.
    bool apply_settings(std::string& why);
    bool apply_bookings(std::string& why);
    bool apply_holds(std::string& why);
    bool apply_blocks(std::string& why);
    void apply_words();
    bool apply_waitlist(std::string& why);

    Engine& e_;
    // The snapshot's last event: the events at or below it are the ones it kept (increasing,
    // with gaps); the events after it follow without one.
    std::uint64_t base_seq_ = 0;
    std::uint64_t last_seq_ = 0;
    std::uint64_t last_kept_ = 0;
    std::unordered_map<std::uint32_t, std::uint64_t> retyped_at_;  // slot: its last type change
    std::unordered_set<std::uint64_t> detailed_;  // live booking records whose fields are in place
    std::unordered_map<std::uint32_t, std::uint64_t> published_at_;  // slot: its publish event
    std::vector<SlotId> removed_;                                    // slots a type removal took
    std::unordered_map<std::uint64_t, LiveHold> live_holds_;
    // The details of the bookings and holds the events after the snapshot made, kept by the
    // first pass: the second then reads only the snapshot's kept events again, not the store's
    // events after it (read twice, a million of them were a fifth of a national start,
    // bench/README.md). By record, the newest generation's: only that one can be live. Past
    // tail_details_max records, the second pass reads those events too.
    static constexpr std::size_t tail_details_max = std::size_t{1} << 20;
    struct TailBooking {
        BookingId id;
        BookingFields fields;
    };
    struct TailHold {
        HoldId id;
        LiveHold hold;
    };
    bool tail_kept_ = false;
    std::unordered_map<std::uint64_t, TailBooking> tail_bookings_;
    std::unordered_map<std::uint64_t, TailHold> tail_holds_;
    std::map<std::uint64_t, BlockSeen> blocks_;  // by block id
    std::vector<Published> published_;
    std::vector<Removal> removals_;
    std::vector<ScheduleEvent> day_counts_;  // schedule_changed, in sequence order
    std::vector<WaitlistChange> waitlist_;
    std::map<std::uint32_t, std::vector<ScheduleEvent>> groups_;  // by their first slot id
    std::vector<ScheduleEvent> ends_;                             // in sequence order
    std::vector<ScheduleEvent> reaches_;  // published, extended, ended: each schedule's days
    std::vector<EntitySeen> entities_;
    std::vector<RecordedType> types_;  // the entity_recorded events of appointment types
    std::vector<ConfigSeen> configs_;
    std::vector<std::pair<SlotId, std::uint64_t>> single_removed_;  // one_slot_removed: slot, seq
    // Every removal (schedule end, type removal, one slot), in sequence order, and the next one
    // to apply.
    struct RemovalStep {
        std::uint64_t seq = 0;
        enum class Kind : std::uint8_t { end, type, slot } kind = Kind::end;
        std::size_t index = 0;
    };
    std::vector<RemovalStep> removal_steps_;
    std::unordered_map<std::uint32_t, Schedule> published_as_;  // schedule id: as published
    std::size_t next_removal_ = 0;
    std::vector<std::uint32_t> typed_slots_;  // the slots latest_ knows, in id order
    std::size_t next_typed_ = 0;
};

void Engine::Restorer::drop_superseded() {
    for (auto& [id, snap] : latest_) {
        if (snap.state == SlotState::booked &&
            booking_gen_[index_of(snap.booking)].generation != generation_of(snap.booking)) {
            snap.state = SlotState::free;
        } else if (snap.state == SlotState::held &&
                   hold_gen_[index_of(snap.hold)] != generation_of(snap.hold)) {
            snap.state = SlotState::free;
        }
    }
}

bool Engine::Restorer::live(BookingId b, SlotId s) const {
    auto it = latest_.find(s.value);
    return it != latest_.end() && it->second.state == SlotState::booked && it->second.booking == b;
}

bool Engine::Restorer::live(HoldId h, SlotId s) const {
    auto it = latest_.find(s.value);
    return it != latest_.end() && it->second.state == SlotState::held && it->second.hold == h;
}

// Everything but the details of live bookings and holds, which need the final slot states.
bool Engine::Restorer::first_pass(const EventScan& scan, std::string& why) {
    std::string problem;
    const bool read = scan(
        [&](const Event& ev) {
            if (ev.seq <= base_seq_) {  // kept by the snapshot
                if (ev.seq <= last_kept_) {
                    problem = "the snapshot's kept events are out of order at event " +
                              std::to_string(ev.seq);
                    return false;
                }
                last_kept_ = ev.seq;
                note(ev);
                return true;
            }
            if (ev.seq != last_seq_ + 1) {
                problem = "event " + std::to_string(last_seq_ + 1) +
                          " is missing (the next stored event is " + std::to_string(ev.seq) + ")";
                return false;
            }
            last_seq_ = ev.seq;
            note(ev);
            if (tail_kept_) keep_details(ev);
            return true;
        },
        why);
    if (!read) return false;
    if (!problem.empty()) {
        why = problem;
        return false;
    }
    summary.events = summary.last_seq = last_seq_;
    drop_superseded();
    return true;
}

// What one event, in sequence order, tells about the final state.
void Engine::Restorer::note(const Event& ev) {
    EventFold::note(ev);  // the slots' snapshots, the booking and hold ids
    switch (ev.kind) {
        case EventKind::booked:
            if (ev.from_waitlist) {
                waitlist_.push_back({false, ev.unit, ev.after.type, ev.patient, {}, ev.entry});
            }
            break;
        case EventKind::slot_published:
            published_.push_back(
                {ev.after.slot, ev.resource, ev.after.type, ev.after.start, ev.seq});
            published_at_[ev.after.slot.value] = ev.seq;
            break;
        case EventKind::slot_type_changed:
            retyped_at_[ev.after.slot.value] = ev.seq;
            ++summary.type_changes;
            break;
        case EventKind::slot_removed:
            removals_.push_back({ev.seq, ev.unit, ev.type, ev.time, ev.schedule.group_first});
            break;
        case EventKind::blocked:
        case EventKind::unblocked:
            note_block(ev);
            break;
        case EventKind::waitlist_added:
        case EventKind::returned_to_waitlist: {
            // R22: a patient returned keeps their place (stores before places were kept: the
            // return's time).
            const Instant at = ev.waitlisted_at.value != 0 ? ev.waitlisted_at : ev.time;
            waitlist_.push_back({true, ev.unit, ev.type, ev.patient, at, ev.entry});
            break;
        }
        case EventKind::waitlist_removed:
            waitlist_.push_back({false, ev.unit, ev.type, ev.patient, {}, ev.entry});
            break;
        case EventKind::schedule_published:
        case EventKind::schedule_extended:
        case EventKind::schedule_ended:
        case EventKind::schedule_changed:
            note_schedule(ev);
            break;
        case EventKind::one_slot_removed:
            single_removed_.push_back({ev.after.slot, ev.seq});
            break;
        case EventKind::type_changed:
        case EventKind::unit_changed:
            if (ev.config != nullptr) configs_.push_back({ev.kind, *ev.config});
            break;
        case EventKind::entity_recorded:
            if (ev.config != nullptr) configs_.push_back({ev.kind, *ev.config});
            entities_.push_back({ev.entity,
                                 ev.entity == EntityKind::unit       ? ev.unit.value
                                 : ev.entity == EntityKind::resource ? ev.resource.value
                                                                     : ev.type.value,
                                 std::string(ev.reason.view()), ev.seq});
            if (ev.entity == EntityKind::type) types_.push_back(recorded_type(ev));
            break;
        default:  // held, hold_expired, rebooked, cancelled: the fold's alone; accessed: none
            break;
    }
}

void Engine::Restorer::note_schedule(const Event& ev) {
    const ScheduleEvent s{ev.seq, ev.kind, ev.schedule, ev.resource, ev.type, ev.time};
    if (ev.kind == EventKind::schedule_changed) {
        // With a day: the region file's last day for a seed schedule (note_seed_reach).
        if (ev.schedule.seed && ev.schedule.day != 0) {
            reaches_.push_back(s);
        } else {
            day_counts_.push_back(s);
        }
        return;
    }
    reaches_.push_back(s);
    if (ev.kind == EventKind::schedule_ended) {
        ends_.push_back(s);
        return;
    }
    std::vector<ScheduleEvent>& group = groups_[ev.schedule.group_first];
    // A group recorded again (a start that stopped while it recorded the seed) counts from its
    // first schedule once more: the last run is the group.
    if (!group.empty() && ev.kind == EventKind::schedule_published &&
        group.front().facts.id == ev.schedule.id) {
        group.clear();
    }
    group.push_back(s);
}

// A blocking event, or its end: the last event about a block gives its range.
void Engine::Restorer::note_block(const Event& ev) {
    BlockSeen& k = blocks_[ev.block.value];
    k.resource = ev.resource;
    k.from = ev.from;
    k.to = ev.to;
    k.unblocked = k.unblocked || ev.kind == EventKind::unblocked;
}

void Engine::Restorer::keep_details(const Event& ev) {
    const bool booking = ev.kind == EventKind::booked || ev.kind == EventKind::rebooked;
    if (!booking && ev.kind != EventKind::held) return;
    if (tail_bookings_.size() + tail_holds_.size() == tail_details_max) {
        tail_kept_ = false;  // the second pass reads them
        tail_bookings_ = {};
        tail_holds_ = {};
        return;
    }
    // A record's generations may be numbered out of order (several worker threads): the
    // newest is kept, and of one id, the last event.
    if (booking) {
        auto [at, added] = tail_bookings_.try_emplace(index_of(ev.booking));
        if (added || generation_of(ev.booking) >= generation_of(at->second.id)) {
            at->second = {ev.booking, booking_fields(ev)};
        }
    } else {
        auto [at, added] = tail_holds_.try_emplace(index_of(ev.after.hold));
        if (added || generation_of(ev.after.hold) >= generation_of(at->second.id)) {
            at->second = {ev.after.hold, live_hold(ev)};
        }
    }
}

Engine::Restorer::LiveHold Engine::Restorer::live_hold(const Event& held) const {
    const Instant expires =
        held.to.value != 0 ? held.to : Instant{held.time.value + e_.catalog_.hold_ttl_s};
    return {held.after.slot, held.patient, expires};
}

void Engine::Restorer::place(BookingId id, const BookingFields& fields) {
    if (index_of(id) >= e_.bookings_->capacity()) return;
    // Straight into the (preallocated) record: no copy of every live booking.
    (*e_.bookings_)[index_of(id)].fields = fields;
    detailed_.insert(index_of(id));
}

void Engine::Restorer::apply_tail() {
    for (const auto& [index, b] : tail_bookings_) {
        if (live(b.id, b.fields.slot_id)) place(b.id, b.fields);
    }
    for (const auto& [index, h] : tail_holds_) {
        if (live(h.id, h.hold.slot)) live_holds_[index] = h.hold;
    }
}

bool Engine::Restorer::second_pass(const EventScan& scan, std::string& why) {
    if (tail_kept_) apply_tail();
    return scan(
        [&](const Event& ev) {
            if (ev.seq > last_seq_ || (tail_kept_ && ev.seq > base_seq_)) return false;
            if ((ev.kind == EventKind::booked || ev.kind == EventKind::rebooked) &&
                live(ev.booking, ev.after.slot)) {
                place(ev.booking, booking_fields(ev));
            } else if (ev.kind == EventKind::held && live(ev.after.hold, ev.after.slot)) {
                live_holds_[index_of(ev.after.hold)] = live_hold(ev);
            }
            return true;
        },
        why);
}

bool Engine::Restorer::apply(std::string& why) {
    if (!apply_structure(why) || !apply_settings(why) || !apply_schedule_days(why) ||
        !apply_blocks(why) || !apply_bookings(why) || !apply_holds(why)) {
        return false;
    }
    apply_words();
    return apply_waitlist(why);
}

namespace {

const char* const other_config =
    ": the store was written with another region config (give the config it was written with, "
    "or a new store)";

}  // namespace

bool Engine::Restorer::apply_structure(std::string& why) {
    // An incomplete first group (a start that stopped while it recorded the seed): as if none.
    if (auto g = groups_.find(0);
        g != groups_.end() && g->second.size() != g->second.front().facts.group_schedules) {
        groups_.erase(g);
    }
    for (std::size_t i = 0; i < ends_.size(); ++i) {
        removal_steps_.push_back({ends_[i].seq, RemovalStep::Kind::end, i});
    }
    for (std::size_t i = 0; i < removals_.size(); ++i) {
        removal_steps_.push_back({removals_[i].seq, RemovalStep::Kind::type, i});
    }
    for (std::size_t i = 0; i < single_removed_.size(); ++i) {
        removal_steps_.push_back({single_removed_[i].second, RemovalStep::Kind::slot, i});
    }
    std::sort(removal_steps_.begin(), removal_steps_.end(),
              [](const RemovalStep& a, const RemovalStep& b) { return a.seq < b.seq; });
    for (const auto& [id, snap] : latest_) typed_slots_.push_back(id);
    for (const auto& [first, group] : groups_) {
        for (const ScheduleEvent& ev : group) {
            if (ev.kind != EventKind::schedule_published) continue;
            const ScheduleFacts& f = ev.facts;
            published_as_[f.id.value] = {ev.resource,    ev.type,      f.weekdays,
                                         f.from_min,     f.to_min,     f.valid_from_day,
                                         f.valid_to_day, f.window_days};
        }
    }
    std::sort(typed_slots_.begin(), typed_slots_.end());
    const std::uint64_t after_all = std::numeric_limits<std::uint64_t>::max();
    // The first group as prelay() laid it out, when the events record the same one; anything
    // else prelay() laid out goes.
    const bool prelaid = prelaid_is_first_group();
    summary.prelaid_slots = prelaid ? e_.index_.size() : 0;
    if (e_.prelaid_ && !prelaid) {
        e_.index_.reset(e_.index_.capacity());
        e_.schedules_.clear();
    }
    e_.prelaid_.reset();
    if (groups_.empty()) {
        // No publication recorded: a new store, or one written before slot ids were kept. The
        // region file's schedules are the first group, numbered as they always were; the start
        // records them (record_seed), after the entities the store holds (a region without
        // schedules records its units, resources and types and publishes nothing).
        if (!check_entities(why)) return false;
        if (e_.index_.size() == 0) e_.lay_out_seed();
        e_.seed_unrecorded_ = summary.seed_unrecorded = true;
        for (const Published& p : published_) {
            if (!lay_out_published(p, why)) return false;
        }
        return settle_types(why) && all_laid_out(why) && apply_removals_before(after_all, why);
    }
    if (!check_entities(why)) return false;
    // Room for what is stored, what the region file's diff may add at this start, and the
    // run's publications.
    if (!prelaid) {
        e_.index_.reset(index_room());
        e_.schedules_.clear();
    }
    e_.seed_unrecorded_ = false;
    // Ids were given in this order: a group at a time, a published slot at a time.
    std::sort(published_.begin(), published_.end(),
              [](const Published& a, const Published& b) { return a.slot < b.slot; });
    auto group = groups_.begin();
    auto single = published_.begin();
    while (group != groups_.end() || single != published_.end()) {
        if (single == published_.end() ||
            (group != groups_.end() && group->first < single->slot.value)) {
            if (!settle_types(why) || !apply_removals_before(group->second.front().seq, why) ||
                !((prelaid && group->first == 0) ||
                  lay_out_group(group->first, group->second, why))) {
                return false;
            }
            ++group;
        } else {
            if (!settle_types(why) || !apply_removals_before(single->seq, why) ||
                !lay_out_published(*single, why)) {
                return false;
            }
            ++single;
        }
    }
    summary.schedules = e_.schedules_.size();
    return settle_types(why) && all_laid_out(why) && apply_removals_before(after_all, why);
}

// Each laid-out slot an event names gets the type its newest snapshot gives (R13).
bool Engine::Restorer::settle_types(std::string& why) {
    const Catalog& catalog = e_.catalog_;
    for (; next_typed_ < typed_slots_.size() && typed_slots_[next_typed_] < e_.index_.size();
         ++next_typed_) {
        const SlotId s{typed_slots_[next_typed_]};
        const SlotSnapshot& snap = latest_.at(s.value);
        if (e_.index_.record(s).start_s != snap.start.value ||
            snap.type.value >= catalog.types.size()) {
            why = "slot " + std::to_string(s.value) + " in the store does not match" + other_config;
            return false;
        }
        if (e_.index_.record(s).type.load(std::memory_order_relaxed) != snap.type.value) {
            e_.index_.move_slot(s, snap.type);
        }
    }
    return true;
}

bool Engine::Restorer::all_laid_out(std::string& why) const {
    if (next_typed_ == typed_slots_.size()) return true;
    why = "slot " + std::to_string(typed_slots_[next_typed_]) + " in the store does not match" +
          other_config;
    return false;
}

bool Engine::Restorer::apply_removals_before(std::uint64_t seq, std::string& why) {
    for (; next_removal_ < removal_steps_.size() && removal_steps_[next_removal_].seq < seq;
         ++next_removal_) {
        const RemovalStep& step = removal_steps_[next_removal_];
        const bool ok = step.kind == RemovalStep::Kind::end ? apply_end(ends_[step.index], why)
                        : step.kind == RemovalStep::Kind::type
                            ? apply_type_removal(removals_[step.index], why)
                            : apply_slot_removal(single_removed_[step.index].first,
                                                 single_removed_[step.index].second, why);
        if (!ok) return false;
    }
    return true;
}

// An end removes the slots its schedule laid out after a day, among those that existed then.
bool Engine::Restorer::apply_end(const ScheduleEvent& end, std::string& why) {
    const ScheduleId id = end.facts.id;
    if (id.value == 0 || id.value > e_.schedules_.size()) {
        why = "event " + std::to_string(end.seq) + " ends schedule " + std::to_string(id.value) +
              ", which was never published";
        return false;
    }
    // A seed schedule replaced by a new one (its hours or days changed in the region file)
    // kept its slots in the new one's pattern. (A start refused between the end and the
    // replacement never served: the end then removes them, as an end without one.)
    const Schedule* spare = nullptr;
    if (auto replacement = published_as_.find(end.facts.group_schedules);
        end.facts.group_schedules != 0 && replacement != published_as_.end()) {
        spare = &replacement->second;
    }
    const auto spared = e_.spared_slots(spare, end.facts.group_first);
    e_.for_each_slot_after(
        e_.schedules_[id.value - 1].schedule, end.facts.day, end.facts.group_first,
        [&](SlotId slot) {
            if (e_.index_.record(slot).start_s > end.time.value && !spared.contains(slot.value)) {
                e_.index_.mark_removed(slot);
                removed_.push_back(slot);
            }
        });
    // Its last day, as the live end left it: a later end walks only the days it had then (a
    // later extension raises it again as it is laid out).
    ScheduleView& s = e_.schedules_[id.value - 1];
    s.schedule.valid_to_day = end.facts.day;
    s.ended = end.facts.day < s.schedule.valid_from_day;
    ++summary.schedules_ended;
    return true;
}

// R14: a type removed from a unit's schedule, on the slots of that type then.
bool Engine::Restorer::apply_type_removal(const Removal& r, std::string& why) {
    const Catalog& catalog = e_.catalog_;
    if (r.unit.value >= catalog.units.size() || r.type.value >= catalog.types.size()) {
        why = "event " + std::to_string(r.seq) + " removes a type" + other_config;
        return false;
    }
    for (ResourceIdx res : catalog.unit(r.unit).resources) {
        e_.index_.for_each_between(res, r.type, Instant{r.time.value + 1}, end_of_time,
                                   [&](SlotId s) {
                                       auto t = retyped_at_.find(s.value);
                                       auto p = published_at_.find(s.value);
                                       if ((t == retyped_at_.end() || t->second < r.seq) &&
                                           (p == published_at_.end() || p->second < r.seq) &&
                                           (r.below == 0 || s.value < r.below)) {
                                           e_.index_.mark_removed(s);
                                           removed_.push_back(s);
                                       }
                                       return true;
                                   });
    }
    ++summary.type_removals;
    return true;
}

bool Engine::Restorer::apply_slot_removal(SlotId s, std::uint64_t seq, std::string& why) {
    if (!e_.index_.contains(s)) {
        why = "event " + std::to_string(seq) + " removes slot " + std::to_string(s.value) +
              ", which the store never published";
        return false;
    }
    e_.index_.mark_removed(s);
    removed_.push_back(s);
    return true;
}

std::size_t Engine::Restorer::slots_stored() const {
    std::size_t n = 0;
    for (const auto& [first, group] : groups_) {
        n = std::max<std::size_t>(n, first + group.front().facts.group_slots);
    }
    for (const Published& p : published_) n = std::max<std::size_t>(n, p.slot.value + 1);
    return n;
}

// The appointment types as the store numbers them: the catalog's are renumbered to match (types
// added live are in no region file, and the file may add types after them).
bool Engine::Restorer::number_types(std::string& why) {
    if (types_.empty()) return true;
    if (!number_types_as_stored(e_.catalog_, types_, why)) return false;
    e_.point_at_types();
    std::uint32_t& recorded = e_.entities_recorded_[static_cast<std::size_t>(EntityKind::type)];
    for (const RecordedType& r : types_) recorded = std::max(recorded, r.index + 1);
    return true;
}

// Each unit and resource the store names by index must be the region file's at that index.
bool Engine::Restorer::check_entities(std::string& why) {
    for (const EntitySeen& seen : entities_) {
        const auto kind = static_cast<std::size_t>(seen.kind);
        if (seen.kind == EntityKind::none || seen.kind == EntityKind::type ||
            kind >= e_.entities_recorded_.size()) {
            continue;  // types: number_types
        }
        const Catalog& c = e_.catalog_;
        const std::uint32_t count =
            static_cast<std::uint32_t>(seen.kind == EntityKind::unit       ? c.units.size()
                                       : seen.kind == EntityKind::resource ? c.resources.size()
                                                                           : c.types.size());
        const std::string_view here = seen.index >= count             ? std::string_view()
                                      : seen.kind == EntityKind::unit ? c.units[seen.index].id
                                      : seen.kind == EntityKind::resource
                                          ? c.resources[seen.index].id
                                          : c.types[seen.index].id;
        if (here != seen.id) {
            why =
                "the store names " + std::string(to_string(seen.kind)) + " " + seen.id +
                " as number " + std::to_string(seen.index + 1) + " of the region file, which " +
                (here.empty() ? std::string("has fewer") : "has " + std::string(here) + " there") +
                ": keep the file's units, resources and appointment types in their order, and "
                "add new ones after them";
            return false;
        }
        e_.entities_recorded_[kind] = std::max(e_.entities_recorded_[kind], seen.index + 1);
    }
    return true;
}

bool Engine::Restorer::group_specs(std::uint32_t first, const std::vector<ScheduleEvent>& group,
                                   std::size_t slots_before, std::size_t schedules_before,
                                   std::vector<Schedule>& specs, std::vector<ScheduleId>& ids,
                                   std::string& why) const {
    const ScheduleFacts& head = group.front().facts;
    const std::string where = "the publication group at slot " + std::to_string(first);
    if (group.size() != head.group_schedules || first != slots_before) {
        why = where + " is incomplete, or its ids do not follow the ones before" + other_config;
        return false;
    }
    for (const ScheduleEvent& ev : group) {
        const ScheduleFacts& f = ev.facts;
        Schedule s{ev.resource, ev.type,          f.weekdays,     f.from_min,
                   f.to_min,    f.valid_from_day, f.valid_to_day, f.window_days};
        const bool extension = ev.kind == EventKind::schedule_extended;
        if (extension) {
            if (f.id.value == 0 || f.id.value > schedules_before) {
                why = where + " extends schedule " + std::to_string(f.id.value) +
                      ", which was not published before it";
                return false;
            }
            s.valid_from_day = f.day;
        } else if (f.id.value != schedules_before + specs.size() + 1) {
            why = where + " publishes schedule " + std::to_string(f.id.value) + " out of turn";
            return false;
        }
        if (s.resource.value >= e_.catalog_.resources.size() ||
            s.type.value >= e_.catalog_.types.size()) {
            why = where + " names a resource or type the region file lacks" + other_config;
            return false;
        }
        specs.push_back(s);
        ids.push_back(f.id);
    }
    return true;
}

bool Engine::Restorer::lay_out_group(std::uint32_t first, const std::vector<ScheduleEvent>& group,
                                     std::string& why) {
    std::vector<Schedule> specs;
    std::vector<ScheduleId> ids;
    if (!group_specs(first, group, e_.index_.size(), e_.schedules_.size(), specs, ids, why)) {
        return false;
    }
    const ScheduleFacts& head = group.front().facts;
    std::vector<std::size_t> slots;
    const auto laid = e_.lay_out(specs, ids, head.seed, slots);
    std::size_t total = 0;
    for (std::size_t n : slots) total += n;
    if (!laid || laid->value != first || total != head.group_slots) {
        why = "the publication group at slot " + std::to_string(first) + " lays out " +
              std::to_string(total) + " slots now and had " + std::to_string(head.group_slots) +
              " (another region config, or the time zone's rules changed)";
        return false;
    }
    return true;
}

std::size_t Engine::Restorer::index_room() const {
    const Catalog& c = e_.catalog_;
    return std::max(e_.index_.capacity(), slots_stored() + estimate_slots(c, c.schedules) +
                                              e_.limits_.published_slots_max);
}

std::size_t Engine::Restorer::lay_out_first_group(std::string& why) {
    const auto group = groups_.find(0);
    if (group == groups_.end() ||
        group->second.size() != group->second.front().facts.group_schedules) {
        return 0;
    }
    e_.index_.reset(index_room());
    e_.schedules_.clear();
    Prelaid laid;
    if (!group_specs(0, group->second, 0, 0, laid.specs, laid.ids, why) ||
        !lay_out_group(0, group->second, why)) {
        e_.index_.reset(e_.index_.capacity());
        e_.schedules_.clear();
        return 0;
    }
    for (const Schedule& s : laid.specs) {
        laid.durations.push_back(e_.catalog_.type(s.type).duration_min);
    }
    laid.seed = group->second.front().facts.seed;
    laid.slots = e_.index_.size();
    e_.prelaid_ = std::move(laid);
    return e_.index_.size();
}

bool Engine::Restorer::prelaid_is_first_group() const {
    const auto group = groups_.find(0);
    if (!e_.prelaid_ || group == groups_.end() || e_.index_.size() != e_.prelaid_->slots ||
        e_.schedules_.size() != e_.prelaid_->specs.size() ||
        group->second.front().facts.group_slots != e_.prelaid_->slots ||
        group->second.front().facts.seed != e_.prelaid_->seed ||
        e_.index_.capacity() < index_room()) {
        return false;
    }
    // A removal recorded before the group (of a type, a schedule or a slot) applies to nothing
    // laid out at the time, and would apply to the prelaid slots: the group is laid out again.
    if (!removal_steps_.empty() && removal_steps_.front().seq < group->second.front().seq) {
        return false;
    }
    // The same schedules as the events give them now, with the same durations: the same slots.
    std::vector<Schedule> specs;
    std::vector<ScheduleId> ids;
    std::string why;
    const Engine::Prelaid& laid = *e_.prelaid_;
    if (!group_specs(0, group->second, 0, 0, specs, ids, why) || ids != laid.ids) return false;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const Schedule& a = specs[i];
        const Schedule& b = laid.specs[i];
        if (a.resource != b.resource || a.type != b.type || a.weekdays != b.weekdays ||
            a.from_min != b.from_min || a.to_min != b.to_min ||
            a.valid_from_day != b.valid_from_day || a.valid_to_day != b.valid_to_day ||
            a.window_days != b.window_days ||
            e_.catalog_.type(a.type).duration_min != laid.durations[i]) {
            return false;
        }
    }
    return true;
}

bool Engine::Restorer::lay_out_published(const Published& p, std::string& why) {
    const Catalog& catalog = e_.catalog_;
    if (p.resource.value >= catalog.resources.size() || p.type.value >= catalog.types.size() ||
        p.slot.value != e_.index_.size()) {
        why = "event " + std::to_string(p.seq) + " publishes slot " + std::to_string(p.slot.value) +
              other_config;
        return false;
    }
    auto added = e_.index_.add_slot(p.resource, p.type, p.start, catalog.type(p.type).duration_min);
    if (!added || *added != p.slot) {
        why = "slot " + std::to_string(p.slot.value) + " cannot be published again" + other_config;
        return false;
    }
    ++summary.published_slots;
    return true;
}

bool Engine::Restorer::apply_settings(std::string& why) {
    // A type's record (the region file's, or the type added live) before any change to it:
    // with --threads N the drain may number a change made at once after an addition before the
    // addition (each lane is numbered in turn), and nothing changes a type before it exists.
    std::stable_partition(configs_.begin(), configs_.end(), [](const ConfigSeen& seen) {
        return seen.kind == EventKind::entity_recorded;
    });
    for (const ConfigSeen& seen : configs_) {
        const ConfigChange& c = seen.config;
        const bool type = c.entity == EntityKind::type;
        if ((type && c.index >= e_.catalog_.types.size()) ||
            (c.entity == EntityKind::unit && c.index >= e_.catalog_.units.size())) {
            why = "a settings change names " + std::string(to_string(c.entity)) + " " +
                  std::to_string(c.index + 1) + ", which the region file lacks" + other_config;
            return false;
        }
        if (!type && c.entity != EntityKind::unit) continue;
        ConfigChange now = c;
        // The record carries the settings only: the rest of the type is the catalog's.
        if (type) now.type = with_settings(e_.catalog_.types[c.index], c.type);
        if (seen.kind == EventKind::entity_recorded) {  // the seed as recorded: also the settings
            if (type) e_.seed_types_[c.index] = now.type;
            if (!type) e_.seed_webs_[c.index] = c.unit;
        } else if (c.seed && type) {  // the region file changed: only what it changed
            now.type = merge_seed(e_.type_now(TypeIdx{c.index}), e_.seed_types_[c.index], c.type);
            e_.seed_types_[c.index] = with_settings(e_.catalog_.types[c.index], c.type);
        } else if (c.seed) {
            now.unit = merge_seed(e_.web_now(UnitIdx{c.index}), e_.seed_webs_[c.index], c.unit);
            e_.seed_webs_[c.index] = c.unit;
        }
        now.seed = false;
        e_.install(std::move(now));
    }
    return true;
}

// Each schedule's last day as its last event left it, and its day counts (R10).
bool Engine::Restorer::apply_schedule_days(std::string& why) {
    for (const ScheduleEvent& ev : reaches_) {
        if (ev.facts.id.value == 0 || ev.facts.id.value > e_.schedules_.size()) continue;
        ScheduleView& s = e_.schedules_[ev.facts.id.value - 1];
        if (ev.kind == EventKind::schedule_changed) {
            s.seed_valid_to = ev.facts.day;
            continue;
        }
        const LocalDay last =
            ev.kind == EventKind::schedule_ended ? ev.facts.day : ev.facts.valid_to_day;
        s.schedule.valid_to_day = last;
        s.ended = last < s.schedule.valid_from_day;
        if (ev.facts.seed) s.seed_valid_to = last;
    }
    // R10: day counts changed, each on the schedule's slots that existed then.
    for (const ScheduleEvent& change : day_counts_) {
        const ScheduleId id = change.facts.id;
        if (id.value == 0 || id.value > e_.schedules_.size()) {
            why = "event " + std::to_string(change.seq) + " changes schedule " +
                  std::to_string(id.value) + ", which was never published";
            return false;
        }
        // On the days the schedule had then (a later extension's slots carry their own).
        ScheduleView& s = e_.schedules_[id.value - 1];
        const LocalDay last = s.schedule.valid_to_day;
        s.schedule.valid_to_day = change.facts.valid_to_day;
        e_.set_day_count(s, change.facts.window_days, change.facts.group_first);
        s.schedule.valid_to_day = last;
    }
    return true;
}

// The active blocks, each in the record its id names; the other records ended, their
// generations past every id given out, and are reused.
bool Engine::Restorer::apply_blocks(std::string& why) {
    std::map<std::uint64_t, std::uint32_t> generations;  // record -> newest generation named
    for (const auto& [id, seen] : blocks_) {
        if (id == 0 || seen.resource.value >= e_.catalog_.resources.size()) {
            why = "blocking event " + std::to_string(id) + " names an unknown resource";
            return false;
        }
        std::uint32_t& g = generations[index_of(BlockId{id})];
        g = std::max(g, generation_of(BlockId{id}));
    }
    const std::uint64_t count = generations.empty() ? 0 : generations.rbegin()->first + 1;
    if (count > e_.blocks_->capacity()) {
        why = "the store's blocks need " + std::to_string(count) + " records, and this engine " +
              "has room for " + std::to_string(e_.blocks_->capacity());
        return false;
    }
    e_.blocks_->skip_to(count);
    for (const auto& [id, seen] : blocks_) {
        if (seen.unblocked) continue;
        BlockRecord& k = (*e_.blocks_)[index_of(BlockId{id})];
        if (k.active.load(std::memory_order_relaxed)) {
            why = "two active blocks of the store share record " +
                  std::to_string(index_of(BlockId{id}));
            return false;
        }
        k.generation.store(generation_of(BlockId{id}), std::memory_order_relaxed);
        k.resource.store(seen.resource.value, std::memory_order_relaxed);
        k.from.store(seen.from.value, std::memory_order_relaxed);
        k.to.store(seen.to.value, std::memory_order_relaxed);
        k.active.store(true, word_order);
        e_.active_blocks_per_resource_[seen.resource.value].fetch_add(1, word_order);
        ++summary.blocks;
    }
    for (std::uint64_t i = count; i-- > 0;) {
        BlockRecord& k = (*e_.blocks_)[i];
        if (k.active.load(std::memory_order_relaxed)) continue;
        const std::uint32_t g = generations.count(i) != 0 ? generations[i] : 0;
        k.generation.store(g, std::memory_order_relaxed);
        if (g < booking_generation_limit) e_.blocks_->release(i);
    }
    return true;
}

bool Engine::Restorer::apply_bookings(std::string& why) {
    std::uint64_t count = 0;
    if (!hand_out(booking_gen_, *e_.bookings_, "booking", count, why)) return false;
    const Instant now = e_.clock_.now();
    // Live bookings: the records their slots name, with the details of their booking event.
    for (const auto& [id, snap] : latest_) {
        if (snap.state != SlotState::booked) continue;
        const std::uint64_t index = index_of(snap.booking);
        if (detailed_.count(index) == 0) {
            why = "slot " + std::to_string(id) + " is booked by " +
                  std::to_string(snap.booking.value) + ", whose booking event is missing";
            return false;
        }
        BookingRecord& r = (*e_.bookings_)[index];
        const BookingFields& fields = r.fields;
        r.generation.store(generation_of(snap.booking), std::memory_order_relaxed);
        r.slot.store(id, std::memory_order_relaxed);
        r.patient.store(fields.patient.value, std::memory_order_relaxed);
        r.ready.store(true, std::memory_order_release);
        ++summary.bookings;
        // The patient's list holds the visits that have not ended (forget_ended drops the
        // others as the engine runs), at most patient_bookings_max of them.
        const SlotRecord& rec = e_.index_.record(SlotId{id});
        if (rec.start_s + rec.duration_min * seconds_per_minute <= now.value) continue;
        PatientRecord* p = e_.patients_->get_or_create(fields.patient);
        if (p == nullptr || p->booking_count == patient_bookings_max) {
            why = "patient table full, or a patient with more than " +
                  std::to_string(patient_bookings_max) + " upcoming bookings";
            return false;
        }
        p->bookings[p->booking_count++] = snap.booking;
    }
    // The other records: ended (the generation moves past every id given out; the last
    // booking's slot and patient stay, so its id is answered as before) and reusable.
    for (std::uint64_t i = count; i-- > 0;) {
        BookingRecord& r = (*e_.bookings_)[i];
        if (r.ready.load()) continue;
        r.fields = BookingFields{};
        auto seen = booking_gen_.find(i);
        if (seen == booking_gen_.end()) {
            e_.bookings_->release(i);
            continue;
        }
        const std::uint32_t ended = seen->second.generation + 1;
        r.generation.store(ended, std::memory_order_relaxed);
        r.slot.store(seen->second.slot.value, std::memory_order_relaxed);
        r.patient.store(seen->second.patient.value, std::memory_order_relaxed);
        if (ended + 1 <= booking_generation_limit) e_.bookings_->release(i);
    }
    return true;
}

bool Engine::Restorer::apply_holds(std::string& why) {
    std::uint64_t count = 0;
    if (!hand_out(hold_gen_, *e_.holds_, "hold", count, why)) return false;
    std::vector<std::pair<Instant, std::uint64_t>> queue;  // live holds by expiry
    const Instant now = e_.clock_.now();
    for (auto& [id, snap] : latest_) {
        if (snap.state != SlotState::held) continue;
        const std::uint64_t index = index_of(snap.hold);
        auto held = live_holds_.find(index);
        if (held == live_holds_.end()) {
            why = "slot " + std::to_string(id) + " is held by " + std::to_string(snap.hold.value) +
                  ", whose held event is missing";
            return false;
        }
        // An expired hold's slot may have been blocked or removed before the sweep ended the
        // hold (block and remove_type take open slots and publish no slot event): it rests.
        if (held->second.expires_at.value <= now.value &&
            e_.covered(e_.index_.record(SlotId{id}))) {
            snap.state = SlotState::free;
            continue;
        }
        HoldRecord& h = (*e_.holds_)[index];
        h.generation.store(generation_of(snap.hold), std::memory_order_relaxed);
        h.slot.store(id, std::memory_order_relaxed);
        h.patient.store(held->second.patient.value, std::memory_order_relaxed);
        h.expires_at.store(held->second.expires_at.value, std::memory_order_relaxed);
        h.live.store(true, std::memory_order_release);
        queue.emplace_back(held->second.expires_at, index);
        ++summary.holds;
    }
    std::sort(queue.begin(), queue.end());
    if (queue.size() > e_.hold_queue_->size()) {
        why = "more live holds than the hold queue takes";
        return false;
    }
    for (const auto& [expiry, index] : queue) {
        const std::uint64_t pos = e_.hold_queue_tail_.fetch_add(1, std::memory_order_relaxed);
        (*e_.hold_queue_)[pos % e_.hold_queue_->size()].store(index + 1, std::memory_order_release);
    }
    for (std::uint64_t i = count; i-- > 0;) {
        if ((*e_.holds_)[i].live.load()) continue;
        auto g = hold_gen_.find(i);
        const std::uint32_t ended = g == hold_gen_.end() ? 0 : g->second + 1;
        (*e_.holds_)[i].generation.store(ended, std::memory_order_relaxed);
        if (ended < hold_generation_limit) e_.holds_->release(i);
    }
    return true;
}

// Slot words: booked and held slots name their records; the others go to the rest their
// blocks and schedule give them (after apply_slots and apply_blocks).
void Engine::Restorer::apply_words() {
    for (const auto& [id, snap] : latest_) {
        std::uint64_t owner = 0;
        SlotState state = SlotState::free;
        if (snap.state == SlotState::booked || snap.state == SlotState::held) {
            state = snap.state;
            owner = state == SlotState::booked ? index_of(snap.booking) : index_of(snap.hold);
        }
        e_.index_.record(SlotId{id})
            .word.store(SlotWord::make(state, snap.version, owner), word_order);
    }
    // Settled: what the events left free or blocked, what a removal took, and what an active
    // block covers. Every other slot is free as loaded, and nothing covers it.
    const auto settle = [&](SlotId s) {
        SlotRecord& rec = e_.index_.record(s);
        e_.settle(rec, rec.word.load(word_order));
    };
    for (const auto& [id, snap] : latest_) settle(SlotId{id});
    for (SlotId s : removed_) settle(s);
    for (const auto& [id, seen] : blocks_) {
        if (seen.unblocked) continue;
        for_each_overlapping(e_.index_, seen.resource, seen.from, seen.to, settle);
    }
}

// The entries waiting at the end, each in the record its id names, with its place (R22); the
// other records ended, their generations past every id given out, and are reused.
bool Engine::Restorer::apply_waitlist(std::string& why) {
    // By entry id: each event names the entry it adds or ends, so changes numbered out of the
    // order of their making (--threads N) still pair up. Stores written before entries had ids
    // pair them by unit, type and patient, and number them in the order they were added.
    std::map<std::uint64_t, WaitlistView> waiting;  // entry id -> entry
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>, std::uint64_t> unnumbered;
    std::map<std::uint64_t, std::uint32_t> generations;  // record -> newest generation named
    std::uint64_t added_unnumbered = 0;
    for (const WaitlistChange& c : waitlist_) {
        if (c.unit.value >= e_.catalog_.units.size() || c.type.value >= e_.catalog_.types.size()) {
            why = "a waitlist event names an unknown unit or type";
            return false;
        }
        const auto key = std::make_tuple(c.unit.value, c.type.value, c.patient.value);
        if (c.entry.value != 0) {
            std::uint32_t& g = generations[index_of(c.entry)];
            g = std::max(g, generation_of(c.entry));
        }
        if (!c.add) {
            if (c.entry.value != 0) {
                waiting.erase(c.entry.value);
            } else if (auto old = unnumbered.find(key); old != unnumbered.end()) {
                waiting.erase(old->second);
                unnumbered.erase(old);
            }
            continue;
        }
        WaitlistEntryId id = c.entry;
        if (id.value == 0) {
            if (unnumbered.count(key) != 0) continue;
            id = waitlist_entry_id(added_unnumbered++, 0);
            unnumbered[key] = id.value;
        }
        if (waiting.count(id.value) != 0) continue;
        generations.emplace(index_of(id), 0);
        waiting[id.value] = WaitlistView{id, c.unit, c.type, c.patient, c.added_at};
    }
    const std::uint64_t count = generations.empty() ? 0 : generations.rbegin()->first + 1;
    if (count > e_.waitlist_->capacity()) {
        why = "the store's waitlist needs " + std::to_string(count) + " records, and this " +
              "engine has room for " + std::to_string(e_.waitlist_->capacity());
        return false;
    }
    e_.waitlist_->skip_to(count);
    for (const auto& [key, w] : waiting) {
        WaitlistRecord& r = (*e_.waitlist_)[index_of(w.id)];
        if (r.state.load(std::memory_order_relaxed) == WaitlistState::waiting) {
            why = "two waiting entries of the store share record " + std::to_string(index_of(w.id));
            return false;
        }
        if (e_.patients_->get_or_create(w.patient) == nullptr) {
            why = "patient table full";
            return false;
        }
        // fill_waiting moves the generation on by two, to the id's (modulo 2^32: life 0 too).
        r.generation.store(generation_of(w.id) - 2, std::memory_order_relaxed);
        e_.fill_waiting(index_of(w.id), w.unit, w.type, w.patient, w.added_at);
    }
    for (std::uint64_t i = count; i-- > 0;) {
        WaitlistRecord& r = (*e_.waitlist_)[i];
        if (r.state.load(std::memory_order_relaxed) == WaitlistState::waiting) continue;
        const std::uint32_t g = generations.count(i) != 0 ? generations[i] : 0;
        r.generation.store(g, std::memory_order_relaxed);
        if (g < booking_generation_limit) e_.waitlist_->release(i);
    }
    summary.waitlist = waiting.size();
    return true;
}

std::optional<RestoreSummary> Engine::restore(const EventScan& scan, std::string& why,
                                              const FoldState* base, const EventScan* ahead) {
    SM_ASSERT(events_->next_seq() == 1 && bookings_->handed_out() == 0);
    Restorer r(*this, base);
    bool read = false;
    if (ahead != nullptr && !prelaid_) {
        // The first pass reads only what the Restorer holds and the catalog; prelay() writes
        // the slot index and the schedules, which the first pass does not touch.
        // An exception on either side is thrown here, after both have ended, as the one-thread
        // path would throw it.
        std::exception_ptr failed;
        std::jthread first([&] {
            try {
                read = r.first_pass(scan, why);
            } catch (...) {
                failed = std::current_exception();
            }
        });
        std::string not_laid;
        (void)prelay(*ahead, not_laid);  // nothing laid out: restore() lays out as always
        first.join();
        if (failed) std::rethrow_exception(failed);
    } else {
        read = r.first_pass(scan, why);
    }
    if (!read || !r.number_types(why)) return std::nullopt;
    size_tables(r.slots_stored());
    if (!r.second_pass(scan, why) || !r.apply(why)) return std::nullopt;
    events_->continue_from(r.summary.last_seq + 1);
    return r.summary;
}

std::size_t Engine::prelay(const EventScan& scan, std::string& why) {
    SM_ASSERT(events_->next_seq() == 1 && bookings_->handed_out() == 0);
    // Every event counts as kept (only their order is checked): the first group is all that
    // is wanted of them.
    FoldState all_kept;
    all_kept.seq = std::numeric_limits<std::uint64_t>::max();
    // The types are not numbered as the store numbers them here (restore() does): a group
    // whose types the numbering moves gets other durations, and restore() lays it out again.
    Restorer r(*this, &all_kept);
    if (!r.first_pass(scan, why)) return 0;
    return r.lay_out_first_group(why);
}

std::uint64_t Engine::state_hash() const {
    // The slots in pieces of a fixed size, each piece fingerprinted on its own (on every core
    // when there are many) and the pieces' fingerprints mixed in order: every start prints the
    // hash, and a national region's 23 M slots were one core's byte-by-byte pass over 550 MB
    // (bench/README.md, "Restart after kill -9").
    constexpr std::uint32_t piece = std::uint32_t{1} << 16;
    const auto slots = static_cast<std::uint32_t>(index_.size());
    std::vector<std::uint64_t> of_piece((std::size_t{slots} + piece - 1) / piece);
    const auto mix_slot = [&](Fingerprint& h, std::uint32_t i) {
        const SlotRecord& rec = index_.record(SlotId{i});
        const std::uint64_t w = rec.word.load(word_order);
        h.mix((std::uint64_t{rec.resource} << 32) | rec.type.load(std::memory_order_relaxed));
        h.mix(static_cast<std::uint64_t>(rec.start_s));
        h.mix((static_cast<std::uint64_t>(
                   static_cast<std::uint16_t>(rec.window_days.load(std::memory_order_relaxed)))
               << 32) |
              (static_cast<std::uint64_t>(rec.duration_min) << 8) |
              (std::uint64_t{rec.removed.load(word_order)} << 4) |
              static_cast<std::uint64_t>(SlotWord::state(w)));
        const std::uint64_t owner = SlotWord::owner(w);
        if (SlotWord::state(w) == SlotState::booked) {
            const BookingFields& f = (*bookings_)[owner].fields;
            h.mix(current_id(owner).value);
            h.mix(f.patient.value);
            h.mix((std::uint64_t{f.from_waitlist} << 8) | static_cast<std::uint64_t>(f.channel));
            h.mix(static_cast<std::uint64_t>(f.changed_at.value));
            h.mix(static_cast<std::uint64_t>(f.waitlisted_at.value));
            h.mix(f.actor.view());
            h.mix(f.actor_name.view());
            h.mix(f.phone.view());
            h.mix(f.reason.view());
        } else if (SlotWord::state(w) == SlotState::held) {
            const HoldRecord& k = (*holds_)[owner];
            h.mix(hold_id(owner, k.generation.load(std::memory_order_acquire)).value);
            h.mix(k.patient.load(std::memory_order_acquire));
            h.mix(static_cast<std::uint64_t>(k.expires_at.load(std::memory_order_acquire)));
        }
    };
    const auto mix_piece = [&](std::size_t p) {
        Fingerprint h;
        const auto first = static_cast<std::uint32_t>(p * piece);
        const std::uint32_t end = std::min(slots, first + piece);
        for (std::uint32_t i = first; i < end; ++i) mix_slot(h, i);
        of_piece[p] = h.value();
    };
    if (of_piece.size() < 2) {
        each_index(of_piece.size(), false, mix_piece);
    } else {
        on_every_core([&] { each_index(of_piece.size(), true, mix_piece); });
    }
    Fingerprint h;
    for (const std::uint64_t v : of_piece) h.mix(v);
    for (std::uint64_t i = 0; i < blocks_->handed_out(); ++i) {
        if (const auto k = active_block(i)) {
            h.mix(k->id.value);
            h.mix(k->resource.value);
            h.mix(static_cast<std::uint64_t>(k->from.value));
            h.mix(static_cast<std::uint64_t>(k->to.value));
        }
    }
    {
        std::lock_guard admin(admin_mutex_);
        for (const ScheduleView& s : schedules_) {
            h.mix((std::uint64_t{s.id.value} << 32) | s.schedule.resource.value);
            h.mix((std::uint64_t{s.schedule.type.value} << 32) | s.schedule.weekdays);
            h.mix((static_cast<std::uint64_t>(s.schedule.from_min) << 32) |
                  static_cast<std::uint32_t>(s.schedule.to_min));
            h.mix((static_cast<std::uint64_t>(static_cast<std::uint32_t>(s.schedule.valid_from_day))
                   << 32) |
                  static_cast<std::uint32_t>(s.schedule.valid_to_day));
            h.mix((static_cast<std::uint64_t>(static_cast<std::uint16_t>(s.schedule.window_days))
                   << 2) |
                  (std::uint64_t{s.seed} << 1) | std::uint64_t{s.ended});
            h.mix(static_cast<std::uint64_t>(static_cast<std::uint32_t>(s.seed_valid_to)));
        }
    }
    for (std::uint32_t t = 0; t < type_count(); ++t) {  // R9: settings as they are now
        const AppointmentType& k = type_now(TypeIdx{t});
        h.mix(k.web_name);
        h.mix(k.web_info);
        h.mix((std::uint64_t{k.web_bookable} << 4) | (std::uint64_t{k.web_cancellable} << 3) |
              (std::uint64_t{k.web_rebookable} << 2) | (std::uint64_t{k.hide_from_patient} << 1) |
              std::uint64_t{k.removed});
        h.mix(static_cast<std::uint64_t>(k.window_days.value_or(0)));
    }
    for (std::uint32_t u = 0; u < catalog_.units.size(); ++u) {
        const WebSettings& w = web_now(UnitIdx{u});
        h.mix((std::uint64_t{w.booking_active} << 2) |
              (std::uint64_t{w.cancel_rebook_active} << 1) | std::uint64_t{w.patient_comment});
        h.mix(w.terms_book);
        h.mix(w.terms_cancel_rebook);
    }
    for (std::uint64_t i = 0; i < waitlist_->handed_out(); ++i) {
        if (const auto w = waiting_at(i)) {
            h.mix(w->id.value);
            h.mix((std::uint64_t{w->unit.value} << 32) | w->type.value);
            h.mix(w->patient.value);
            h.mix(static_cast<std::uint64_t>(w->added_at.value));
        }
    }
    return h.value();
}

}  // namespace slotmatch
