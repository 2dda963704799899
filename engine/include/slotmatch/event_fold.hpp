// What a history of events leaves for recovery, folded one event at a time (docs/engine.md,
// "Snapshots"). Recovery reads every stored event, twice without a snapshot
// (engine_restore.cpp); a snapshot lets it skip the old ones. Folding a history up to event S
// leaves:
// - per slot an event named, its newest snapshot (the version orders one slot's changes);
// - per booking and hold record, the newest generation a stored id names (and a booking's slot
//   and patient), so that old ids stay answered and refused as before and new ids never repeat
//   them;
// - the events recovery still needs whole: every event but the booking traffic (publications,
//   schedule and settings changes, blocks, the waitlist, and a booking from the waitlist), and
//   the booked, rebooked and held events of the bookings and holds live at S.
// Everything else (ended bookings and holds, accesses) is dropped: what it did is in the first
// two. Recovery from FoldState + kept events + the events after S rebuilds the state a replay of
// the whole history rebuilds (the same state_hash), whichever order a cut numbered the changes
// of one slot in. The events stay the legal record; only recovery skips the old ones.
#pragma once

#include <cstdint>
#include <slotmatch/events.hpp>
#include <unordered_map>
#include <vector>

namespace slotmatch {

// The part of a fold that dropped events leave, as plain lists (a snapshot's body).
struct FoldState {
    struct BookingSeen {
        std::uint64_t index = 0;  // the booking record
        std::uint32_t generation = 0;
        SlotId slot;
        PatientKey patient;
    };
    struct HoldSeen {
        std::uint64_t index = 0;
        std::uint32_t generation = 0;
    };
    std::uint64_t seq = 0;  // the last event folded in
    std::vector<SlotSnapshot> slots;
    std::vector<BookingSeen> bookings;
    std::vector<HoldSeen> holds;
};

class EventFold {
  public:
    EventFold() = default;
    explicit EventFold(const FoldState& state);

    // Folds in one event: its slots' snapshots and the ids it names.
    void note(const Event& ev);
    // Whether recovery past a cut at the events folded so far needs `ev` (one of them) again.
    bool keeps(const Event& ev) const;
    // The events whose part in recovery is more than the snapshots and ids note() keeps.
    static bool structural(const Event& ev);
    // What the fold holds, with `seq` the last event folded in.
    FoldState state(std::uint64_t seq) const;

  protected:
    struct BookingSeen {
        std::uint32_t generation = 0;
        SlotId slot;
        PatientKey patient;
    };
    void note_slot(const SlotSnapshot& s);
    void note_slots(const Event& ev) {
        note_slot(ev.before);
        note_slot(ev.after);
    }
    void note_booking(BookingId b, SlotId slot, PatientKey patient);
    void note_hold(HoldId h);
    // The slot's newest snapshot names this booking (or hold), in the generation its record
    // is at: it is live after the events folded so far.
    bool booking_live(BookingId b, SlotId s) const;
    bool hold_live(HoldId h, SlotId s) const;

    std::unordered_map<std::uint32_t, SlotSnapshot> latest_;  // per slot: newest snapshot
    // Per booking record: the newest generation an id names, and that booking's slot and
    // patient (an ended booking's record keeps them, so its id is answered as before).
    std::unordered_map<std::uint64_t, BookingSeen> booking_gen_;
    std::unordered_map<std::uint64_t, std::uint32_t> hold_gen_;
};

}  // namespace slotmatch
