// Event records: one per state change, trivially copyable so they move through the bounded
// ring without allocation. Events are queued after the change and delivered by the consumer
// (liquibook), never as side effects in the middle of a state change.
#pragma once

#include <cstdint>
#include <deque>
#include <slotmatch/catalog.hpp>
#include <slotmatch/types.hpp>
#include <string_view>
#include <type_traits>

namespace slotmatch {

// R17: "changed by" of a web booking is the web booking system, not a person (an event of the
// web channel names no staff member; the web booking log shows this instead).
inline constexpr std::string_view web_system_identity = "1177 Vårdguidens e-tjänster";

enum class EventKind : std::uint8_t {
    slot_published,
    slot_removed,
    slot_type_changed,
    blocked,
    unblocked,
    held,
    hold_expired,
    booked,
    rebooked,
    cancelled,
    returned_to_waitlist,
    waitlist_added,
    // An access to a patient's bookings that changed nothing: a read (bookings), or a refused
    // hold/book/rebook/cancel/waitlist add (Patientdatalagen's access log). No state change:
    // recovery skips it. Last of the first kinds: stored kinds keep their numbers.
    accessed,
    // Slot identity (docs/engine.md): a schedule published in a publication group (the group's
    // slots take the next ids, one event per schedule of the group), a schedule extended (a
    // group of the days added), a schedule ended (its free slots after a day removed), and an
    // entity of the catalog that events name by index, recorded with its id.
    schedule_published,
    schedule_extended,
    schedule_ended,
    entity_recorded,
    one_slot_removed,  // R14: one slot taken out of the calendar (after: the slot, removed)
    // R9: an appointment type's or a unit's settings changed (config: what they are now).
    type_changed,
    unit_changed,
    waitlist_removed,  // staff took the patient off the waitlist (entry: which one)
    // R10: a schedule's day count changed (schedule: the schedule with its new count; it
    // applies to its slots below group_first, those published later carry their own).
    schedule_changed,
};
inline constexpr std::size_t event_kind_count = 22;
std::string_view to_string(EventKind k);

// What an `accessed` event records the actor trying or doing.
enum class AccessAction : std::uint8_t {
    none,
    hold,
    book,
    rebook,
    cancel,
    bookings,
    waitlist_add,
    booking,  // one booking's details (staff)
};
std::string_view to_string(AccessAction a);

// entity_recorded: which kind of catalog entity (its index is in unit, resource or type; its id
// in reason).
enum class EntityKind : std::uint8_t { none, unit, resource, type };
std::string_view to_string(EntityKind k);

// A schedule event's facts: the schedule (resource and type are the event's), and the
// publication group its slots belong to.
struct ScheduleFacts {
    ScheduleId id;
    std::uint8_t weekdays = 0;  // bit 0 = Monday
    bool seed = false;          // laid out by the region file (its diff ends or extends it)
    std::int16_t from_min = 0;  // local minutes after midnight
    std::int16_t to_min = 0;
    std::int32_t valid_from_day = 0;  // local days since 1970-01-01, inclusive
    std::int32_t valid_to_day = 0;    // inclusive (ended: as it is after the end)
    // published, extended: the group's first slot id, its slots, its schedules (one event
    // each, all with this first id). ended: the end applies to slots below group_first.
    std::uint32_t group_first = 0;
    std::uint32_t group_slots = 0;
    std::uint32_t group_schedules = 0;
    std::int32_t day = 0;          // extended: the first day added; ended: the last day kept
    std::int16_t window_days = 0;  // R10 as scheduled (0: the type's); changed: the new count
    friend bool operator==(const ScheduleFacts&, const ScheduleFacts&) = default;
};

// type_changed, unit_changed, and entity_recorded: an entity's settings after a change (R9), with
// texts of any length. The engine keeps every one it makes for as long as it runs, and an event
// points at it, so events stay trivially copyable; a decoder gives them storage of its own (a
// ConfigArena that outlives the events it decodes).
struct ConfigChange {
    EntityKind entity = EntityKind::none;
    std::uint32_t index = 0;
    bool seed = false;     // laid out by the region file (its diff compares against it)
    AppointmentType type;  // entity type: the flags, web texts, day count and removal
    WebSettings unit;      // entity unit: the case types, patient comment and terms
    // entity_recorded of a type staff added live: `type` is its whole definition (id, internal
    // name, duration, unit), which no region file holds.
    bool defines = false;
};
using ConfigArena = std::deque<ConfigChange>;

// The unit of an event that concerns no one unit (an access across units).
inline constexpr UnitIdx no_unit{0xFFFF'FFFFu};

// The values of one slot before or after a change.
struct SlotSnapshot {
    SlotId slot;
    SlotState state = SlotState::free;
    std::uint32_t version = 0;  // the slot's state-word version: orders changes of one slot
    TypeIdx type;
    Instant start;
    BookingId booking;  // set when booked
    HoldId hold;        // set when held
    PatientKey patient;
};

struct Event {
    std::uint64_t seq = 0;  // strictly increasing, assigned by the ring in publish order
    Instant time;
    EventKind kind = EventKind::booked;
    Channel channel = Channel::staff;
    ActorText actor;
    ActorName actor_name;
    UnitIdx unit;
    ResourceIdx resource;
    SlotSnapshot before;  // empty (slot id 0, free) where the event has no "before"
    SlotSnapshot after;
    SlotSnapshot released;  // rebooked: the source slot after the move (free, blocked, removed)
    BookingId booking;
    PatientKey patient;
    BlockId block;
    Instant from;                // blocks: the blocked interval
    Instant to;                  // held: when the hold expires
    TypeIdx type;                // waitlist and schedule events
    bool billable = false;       // R23, on rebooked/cancelled
    bool from_waitlist = false;  // R22
    PhoneText phone;             // R18, on booked and rebooked
    ReasonText reason;           // R18, or the reason of a block
    // accessed: what was tried, how it ended, and the citizen a web/proxy request was made for
    // (patient is whose bookings were touched: they differ when a citizen asks for another's).
    AccessAction action = AccessAction::none;
    ErrorCode outcome = ErrorCode::ok;
    PatientKey on_behalf_of;
    ScheduleFacts schedule;                // schedule events
    EntityKind entity = EntityKind::none;  // entity_recorded (the id in reason)
    const ConfigChange* config = nullptr;  // type_changed, unit_changed, entity_recorded
    // Waitlist events, and a booking from the waitlist: the entry, and when the patient was put
    // on the waitlist (R22: a patient returned to it keeps that place).
    WaitlistEntryId entry;
    Instant waitlisted_at;
};
static_assert(std::is_trivially_copyable_v<Event>, "events travel through a ring by memcpy");

// An entity_recorded event of an appointment type as number_types_as_stored takes it (recovery,
// and the journal's names).
inline RecordedType recorded_type(const Event& e) {
    RecordedType r{e.type.value, std::string(e.reason.view()), std::nullopt};
    if (e.config != nullptr && e.config->defines) r.added = e.config->type;
    return r;
}

}  // namespace slotmatch
