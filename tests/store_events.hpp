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
