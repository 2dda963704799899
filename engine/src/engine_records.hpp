// The engine's internal records (booking, hold, block, waitlist). Each is written once by the
// thread that allocated it and then published: to other threads through the slot word (a CAS)
// or through its flag (a release store) for scanners.
#pragma once

#include <array>
#include <concepts>
#include <slotmatch/engine.hpp>

namespace slotmatch {

// The region file changed a setting between `old_seed` and `new_seed`: that field takes the new
// seed's value on top of `now` (a live change of another field stays). engine_settings.cpp.
// `base` (the type as the catalog knows it: id, names, duration, unit) with the settings a
// settings record carries (R9: web texts, flags, day count, removal). A record read back from a
// store carries only those.
AppointmentType with_settings(AppointmentType base, const AppointmentType& settings);
AppointmentType merge_seed(AppointmentType now, const AppointmentType& old_seed,
                           const AppointmentType& new_seed);
WebSettings merge_seed(WebSettings now, const WebSettings& old_seed, const WebSettings& new_seed);

// Who the engine's own sweeps (hold expiry, the end of past blocks) act as in their events.
inline Actor sweep_actor() {
    return Actor{Channel::staff, ActorText::from("slotmatch"), {}, false, {}};
}

// Staff acting inside the unit that owns `unit`; every other caller is refused.
inline bool staff_of(const Actor& actor, UnitIdx unit) {
    return actor.channel == Channel::staff && actor.has_unit && actor.unit == unit;
}

// A booking record is reused once its booking has ended (cancelled or rebooked). Its
// generation moves on at that moment, and a BookingId carries the generation it was made in,
// so an old id never reaches the record's next booking. The identity (generation, slot,
// patient) is atomic and may be read by anyone; the details in `fields` are written before the
// booking is published and read only under the booking patient's claim, and since a booking
// ends (and its record is reused) only under that claim, they are stable while read.
//
// The generation is even while the record is in use (or unused) and odd from the moment its
// booking ends until the record is taken again, so a reader can tell "ended, details of that
// booking still here" from "reused". Ids carry generation / 2 in 24 bits; a record whose
// generation would pass that is not reused again.
struct Engine::BookingRecord {
    std::atomic<std::uint32_t> generation{0};
    std::atomic<bool> ready{false};  // published in this generation (false: never, or ended)
    std::atomic<std::uint32_t> slot{0};
    std::atomic<std::uint64_t> patient{0};
    BookingFields fields;
};

// A booking's identity as seen from its id, read without the patient's claim.
struct Engine::BookingRef {
    enum class Kind : std::uint8_t {
        unknown,         // no such id (yet), or its record is not published
        live,            // published; slot and patient are the booking's
        ended,           // cancelled or rebooked; slot and patient are still the booking's
        ended_forgotten  // ended and the record reused: slot and patient are unknown
    };
    Kind kind = Kind::unknown;
    BookingId id;
    SlotId slot;
    PatientKey patient;
};

// A hold record is reused after the expiry sweep has passed it (the hold expired, was booked,
// or its slot was taken after it expired). Every field is atomic, because a booking path may
// read a record through a slot word it loaded a moment before the record was reused; such a
// reading is checked against the word again before it decides anything. A HoldId carries the
// generation it was made in, as a BookingId does.
struct Engine::HoldRecord {
    std::atomic<std::uint32_t> generation{0};
    std::atomic<bool> live{false};  // published in this generation
    std::atomic<std::uint32_t> slot{0};
    std::atomic<std::uint64_t> patient{0};
    std::atomic<std::int64_t> expires_at{0};
};

// A blocking event's record is released when the block ends (unblocked by staff, or by the
// sweep once its end has passed) and reused. Booking paths read blocks without a lock, so a
// record is written and read as a seqlock, as a waitlist entry is (Engine::active_block); a
// BlockId carries generation / 2, so an old id never reaches a later block. `active` is the
// flag of the Dekker-style handshake with the booking paths (see word_order).
struct Engine::BlockRecord {
    std::atomic<std::uint32_t> generation{0};
    std::atomic<bool> active{false};
    std::atomic<std::uint32_t> resource{0};
    std::atomic<std::int64_t> from{0};
    std::atomic<std::int64_t> to{0};
};

// An active block as one reading of its record.
struct Engine::BlockSpan {
    BlockId id;
    ResourceIdx resource;
    Instant from;
    Instant to;
};

inline constexpr std::string_view waitlist_full_text =
    "waitlist full: as many patients wait as slotmatchd has room for (its start says how many)";

enum class WaitlistState : std::uint8_t { unset = 0, waiting = 1, removed = 2 };

// A waitlist entry's record is released when the entry ends (booked from the waitlist, or taken
// off) and reused. A patient's entries change only under the patient's claim, but staff list a
// unit's waitlist without one, so a record is read as a seqlock: its writer makes the generation
// odd, writes the fields (release), makes it even again, and only then marks it waiting; a
// reader takes the fields (acquire) only when the generation reads the same, and even, before and
// after (Engine::waiting_at).
// Entry ids carry generation / 2, as booking ids do, so an old id never reaches a later entry.
struct Engine::WaitlistRecord {
    std::atomic<std::uint32_t> generation{0};
    std::atomic<WaitlistState> state{WaitlistState::unset};
    std::atomic<std::uint32_t> unit{0};
    std::atomic<std::uint32_t> type{0};
    std::atomic<std::uint64_t> patient{0};
    std::atomic<std::int64_t> added_at{0};
};

// A lane of the event buffer and room in it for an operation's events, taken before anything
// changes; what is not used is given back, and the lane released, when the operation ends.
class Engine::Reservation {
  public:
    Reservation(EventRings& rings, std::size_t n) : rings_(rings), lane_(rings.claim()) {
        if (lane_ != nullptr && lane_->try_reserve(n)) left_ = n;
    }
    ~Reservation() {
        if (lane_ == nullptr) return;
        if (left_ > 0) lane_->unreserve(left_);
        rings_.release(lane_);
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    bool ok() const { return left_ > 0; }
    std::size_t lane() const { return lane_->index(); }
    // The next event, empty, written in place in the lane; publish() makes it visible.
    Event& event() {
        SM_ASSERT(left_ > 0);
        return lane_->next();
    }
    void publish() {
        SM_ASSERT(left_ > 0);
        --left_;
        lane_->commit();
    }

  private:
    EventRings& rings_;
    EventRings::Lane* lane_;
    std::size_t left_ = 0;
};

// Freed booking records kept with an event lane. An operation holds its lane from start to end,
// so it takes and frees records here without touching a cache line another thread writes;
// records go to the table's shared stack only when the lane's cache is full, and a table that
// runs out takes them back from other lanes (see Engine::take_record). Each lane's cache has
// lines of its own: neighbouring lanes are written by different threads.
struct alignas(cache_line_bytes) Engine::LaneRecords {
    static constexpr std::size_t max = 32;
    std::array<std::uint64_t, max> index{};
    std::size_t count = 0;
};

inline constexpr Instant end_of_time{std::int64_t{1} << 62};

// A publication over the time of a removed slot that is still booked (an orphan).
inline constexpr std::string_view orphan_text =
    "a removed slot at that time is still booked or held (an orphan): move or cancel it first "
    "(booking --booking B names its slot)";
inline constexpr std::int64_t longest_slot_s = slot_duration_min_max * seconds_per_minute;
// The slots of resource `r` that overlap [from, to), of every type.
template <typename F>
void for_each_overlapping(const SlotIndex& index, ResourceIdx r, Instant from, Instant to, F&& f) {
    for (const Shard* shard : index.shards_of(r)) {
        index.for_each_between(*shard, Instant{from.value - longest_slot_s}, to, [&](SlotId s) {
            const SlotRecord& rec = index.record(s);
            if (rec.type.load(std::memory_order_relaxed) != shard->type.value) return true;
            if (rec.start_s + rec.duration_min * seconds_per_minute > from.value) f(s);
            return true;
        });
    }
}

// Record ids: the record's index + 1 in the low 40 bits (so that id 0 means "none" on the wire),
// and above them the generation the record had when the id was made, so an old id never reaches
// the record's next life. Booking, block and waitlist records are in use at even generations
// and their ids carry generation / 2; hold ids carry the generation itself.
inline constexpr unsigned booking_index_bits = 40;
inline constexpr std::uint64_t booking_index_mask = (std::uint64_t{1} << booking_index_bits) - 1;
template <typename Id>
concept RecordId = std::same_as<Id, BookingId> || std::same_as<Id, HoldId> ||
    std::same_as<Id, BlockId> || std::same_as<Id, WaitlistEntryId>;
template <RecordId Id>
std::uint64_t index_of(Id id) {
    return (id.value & booking_index_mask) - 1;
}
// The (even) generation of the record that the id was made in.
template <RecordId Id>
std::uint32_t generation_of(Id id) {
    return static_cast<std::uint32_t>(id.value >> booking_index_bits) * 2;
}
template <RecordId Id>
Id record_id(std::uint64_t index, std::uint32_t generation) {
    return Id{(std::uint64_t{generation / 2} << booking_index_bits) | (index + 1)};
}
inline constexpr std::uint32_t booking_generation_limit =
    ((std::uint32_t{1} << (64 - booking_index_bits)) - 1) * 2;  // the last even one ids can carry
inline BookingId booking_id(std::uint64_t index, std::uint32_t generation) {
    return record_id<BookingId>(index, generation);
}
inline BlockId block_id(std::uint64_t index, std::uint32_t generation) {
    return record_id<BlockId>(index, generation);
}
inline WaitlistEntryId waitlist_entry_id(std::uint64_t index, std::uint32_t generation) {
    return record_id<WaitlistEntryId>(index, generation);
}
template <>
inline std::uint32_t generation_of(HoldId h) {
    return static_cast<std::uint32_t>(h.value >> booking_index_bits);
}
inline HoldId hold_id(std::uint64_t index, std::uint32_t generation) {
    return HoldId{(std::uint64_t{generation} << booking_index_bits) | (index + 1)};
}
inline constexpr std::uint32_t hold_generation_limit =
    (std::uint32_t{1} << (64 - booking_index_bits)) - 1;

// Slot words change with sequentially consistent CAS and loads where a booking path and a
// block, unblock or type removal must see each other's changes (a Dekker-style handshake:
// each side writes its own flag or word, then reads the other's). On x86 these cost the same
// as acquire/release.
inline constexpr std::memory_order word_order = std::memory_order_seq_cst;

// The slots of the schedule's resource and type that its pattern lays out after `last_day`, among
// ids below `below` (engine_schedules.cpp and recovery).
template <typename F>
void Engine::for_each_slot_after(const Schedule& s, LocalDay last_day, std::size_t below,
                                 F&& f) const {
    // Every type's shard of the resource: a slot whose type staff changed (R13) is still the
    // schedule's, and the set does not depend on types, so recovery finds it before it has
    // restored them.
    for (const Shard* shard : index_.shards_of(s.resource)) {
        for (LocalDay day = std::max(last_day + 1, s.valid_from_day); day <= s.valid_to_day;
             ++day) {
            if ((s.weekdays & (1U << Calendar::weekday(day))) == 0) continue;
            index_.for_each_between(
                *shard, calendar_.at_local(day, s.from_min), calendar_.at_local(day, s.to_min),
                [&](SlotId id) {
                    if (id.value < below && index_.record(id).type.load(
                                                std::memory_order_relaxed) == shard->type.value) {
                        f(id);
                    }
                    return true;
                });
        }
    }
}

}  // namespace slotmatch
