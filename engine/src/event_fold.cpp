// The fold recovery and snapshots share (event_fold.hpp).
#include <algorithm>
#include <slotmatch/event_fold.hpp>

#include "engine_records.hpp"

namespace slotmatch {
namespace {

// Versions are 22 bits and wrap: a is newer than b when it is less than half the range ahead.
bool newer(std::uint32_t a, std::uint32_t b) {
    const std::uint32_t ahead = (a - b) & SlotWord::version_mask;
    return ahead != 0 && ahead < (std::uint32_t{1} << (SlotWord::version_bits - 1));
}

}  // namespace

EventFold::EventFold(const FoldState& state) {
    latest_.reserve(state.slots.size());
    for (const SlotSnapshot& s : state.slots) latest_.emplace(s.slot.value, s);
    booking_gen_.reserve(state.bookings.size());
    for (const FoldState::BookingSeen& b : state.bookings) {
        booking_gen_.emplace(b.index, BookingSeen{b.generation, b.slot, b.patient});
    }
    hold_gen_.reserve(state.holds.size());
    for (const FoldState::HoldSeen& h : state.holds) hold_gen_.emplace(h.index, h.generation);
}

void EventFold::note(const Event& ev) {
    switch (ev.kind) {
        case EventKind::held:
            note_slots(ev);
            note_hold(ev.after.hold);
            break;
        case EventKind::hold_expired:
            note_slots(ev);
            note_hold(ev.before.hold);
            break;
        case EventKind::booked:
            note_slots(ev);
            note_hold(ev.before.hold);
            note_booking(ev.booking, ev.after.slot, ev.patient);
            break;
        case EventKind::rebooked:
            note_slots(ev);
            note_slot(ev.released);
            note_booking(ev.before.booking, ev.before.slot, ev.patient);
            note_booking(ev.booking, ev.after.slot, ev.patient);
            break;
        case EventKind::cancelled:
            note_slots(ev);
            note_booking(ev.booking, ev.before.slot, ev.patient);
            break;
        case EventKind::slot_published:
            note_slot(ev.after);
            break;
        case EventKind::slot_type_changed:
        case EventKind::one_slot_removed:
            note_slots(ev);
            break;
        default:
            break;
    }
}

bool EventFold::structural(const Event& ev) {
    switch (ev.kind) {
        case EventKind::held:
        case EventKind::hold_expired:
        case EventKind::rebooked:
        case EventKind::cancelled:
        case EventKind::accessed:
            return false;
        case EventKind::booked:
            return ev.from_waitlist;  // it ends a waitlist entry (R22)
        default:
            return true;
    }
}

bool EventFold::keeps(const Event& ev) const {
    if (structural(ev)) return true;
    switch (ev.kind) {
        case EventKind::booked:
        case EventKind::rebooked:
            return booking_live(ev.booking, ev.after.slot);
        case EventKind::held:
            return hold_live(ev.after.hold, ev.after.slot);
        default:
            return false;
    }
}

FoldState EventFold::state(std::uint64_t seq) const {
    FoldState s;
    s.seq = seq;
    s.slots.reserve(latest_.size());
    for (const auto& [id, snap] : latest_) s.slots.push_back(snap);
    std::sort(s.slots.begin(), s.slots.end(),
              [](const SlotSnapshot& a, const SlotSnapshot& b) { return a.slot < b.slot; });
    s.bookings.reserve(booking_gen_.size());
    for (const auto& [index, seen] : booking_gen_) {
        s.bookings.push_back({index, seen.generation, seen.slot, seen.patient});
    }
    std::sort(s.bookings.begin(), s.bookings.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    s.holds.reserve(hold_gen_.size());
    for (const auto& [index, generation] : hold_gen_) s.holds.push_back({index, generation});
    std::sort(s.holds.begin(), s.holds.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    return s;
}

void EventFold::note_slot(const SlotSnapshot& s) {
    auto [it, fresh] = latest_.try_emplace(s.slot.value, s);
    if (!fresh && newer(s.version, it->second.version)) it->second = s;
}

void EventFold::note_booking(BookingId b, SlotId slot, PatientKey patient) {
    if ((b.value & booking_index_mask) == 0) return;
    BookingSeen& seen = booking_gen_[index_of(b)];
    if (generation_of(b) >= seen.generation) seen = {generation_of(b), slot, patient};
}

void EventFold::note_hold(HoldId h) {
    if ((h.value & booking_index_mask) == 0) return;
    std::uint32_t& g = hold_gen_[index_of(h)];
    g = std::max(g, generation_of(h));
}

bool EventFold::booking_live(BookingId b, SlotId s) const {
    if ((b.value & booking_index_mask) == 0) return false;
    const auto it = latest_.find(s.value);
    if (it == latest_.end() || it->second.state != SlotState::booked || it->second.booking != b) {
        return false;
    }
    const auto seen = booking_gen_.find(index_of(b));
    return seen != booking_gen_.end() && seen->second.generation == generation_of(b);
}

bool EventFold::hold_live(HoldId h, SlotId s) const {
    if ((h.value & booking_index_mask) == 0) return false;
    const auto it = latest_.find(s.value);
    if (it == latest_.end() || it->second.state != SlotState::held || it->second.hold != h) {
        return false;
    }
    const auto seen = hold_gen_.find(index_of(h));
    return seen != hold_gen_.end() && seen->second == generation_of(h);
}

}  // namespace slotmatch
