// Event records: one per state change, trivially copyable so they move through the bounded
// ring without allocation. Events are queued after the change and delivered by the consumer
// (liquibook), never as side effects in the middle of a state change.
#pragma once

#include <cstdint>
#include <slotmatch/types.hpp>
#include <string_view>
#include <type_traits>

namespace slotmatch {

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
};
std::string_view to_string(EventKind k);

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
};
static_assert(std::is_trivially_copyable_v<Event>, "events travel through a ring by memcpy");

}  // namespace slotmatch
