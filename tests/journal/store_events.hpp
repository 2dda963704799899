// Events for the store tests, and reading a store back whole (store_contract.hpp and the
// journal's end-to-end tests).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "event_store.hpp"

namespace slotmatch::journal::contract {

inline Event event(std::uint64_t seq) {
    Event e;
    e.seq = seq;
    e.time = Instant{1'772'431'200 + static_cast<std::int64_t>(seq)};
    e.kind = seq % 2 ? EventKind::booked : EventKind::cancelled;
    e.channel = Channel::web;
    e.actor = ActorText::from("1177-gateway");
    e.unit = UnitIdx{static_cast<std::uint32_t>(seq % 3)};
    e.resource = ResourceIdx{7};
    e.booking = BookingId{seq * 10};
    e.patient = PatientKey{191212121212};
    e.after.slot = SlotId{static_cast<std::uint32_t>(seq)};
    e.after.state = SlotState::booked;
    e.reason = ReasonText::from("Ont i örat");
    return e;
}

inline std::vector<Event> events(std::uint64_t first, std::uint64_t last) {
    std::vector<Event> v;
    for (std::uint64_t s = first; s <= last; ++s) v.push_back(event(s));
    return v;
}

// A web booking, rebooking and cancellation of unit 1 (one row each in the web booking log),
// with a staff booking, a proxy cancellation and a web hold between them (no rows), one
// minute apart.
inline std::vector<Event> log_events() {
    std::vector<Event> v;
    v.reserve(8);  // the references below stay valid while events are added
    const auto add = [&](EventKind kind, Channel channel) -> Event& {
        Event& e = v.emplace_back();
        e.seq = v.size();
        e.time = Instant{1'772'431'200 + 60 * static_cast<std::int64_t>(v.size())};
        e.kind = kind;
        e.channel = channel;
        e.actor = ActorText::from(channel == Channel::web ? "1177-gateway" : "vgr-abc123");
        e.unit = UnitIdx{1};
        e.resource = ResourceIdx{7};
        e.patient = PatientKey{191212121212};
        e.phone = PhoneText::from("0701234567");
        e.reason = ReasonText::from("Ont i örat");
        return e;
    };
    Event& booked = add(EventKind::booked, Channel::web);  // 1
    booked.booking = BookingId{10};
    booked.after = {SlotId{40}, SlotState::booked,      2,
                    TypeIdx{3}, Instant{1'772'600'000}, BookingId{10},
                    HoldId{},   booked.patient};
    add(EventKind::booked, Channel::staff).booking = BookingId{20};     // 2
    add(EventKind::cancelled, Channel::proxy).booking = BookingId{30};  // 3
    Event& rebooked = add(EventKind::rebooked, Channel::web);           // 4
    rebooked.booking = BookingId{11};
    rebooked.before = booked.after;
    rebooked.after = {SlotId{41}, SlotState::booked,      2,
                      TypeIdx{3}, Instant{1'772'601'200}, BookingId{11},
                      HoldId{},   booked.patient};
    rebooked.billable = true;
    add(EventKind::held, Channel::web);                          // 5
    Event& cancelled = add(EventKind::cancelled, Channel::web);  // 6
    cancelled.booking = BookingId{11};
    cancelled.before = rebooked.after;
    cancelled.after = rebooked.after;
    cancelled.after.state = SlotState::free;
    return v;
}

// Every event of a store, in order; a scan that fails is a test failure.
inline std::vector<Event> all_events(const EventStore& store) {
    std::vector<Event> out;
    std::string why;
    EXPECT_TRUE(store.scan(
        1,
        [&](const Event& e) {
            out.push_back(e);
            return true;
        },
        why))
        << why;
    return out;
}

}  // namespace slotmatch::journal::contract
