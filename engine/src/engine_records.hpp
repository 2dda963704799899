// The engine's internal records (booking, hold, block, waitlist). Each is written once by the
// thread that allocated it and then published: to other threads through the slot word (a CAS)
// or through its flag (a release store) for scanners.
#pragma once

#include <slotmatch/engine.hpp>

namespace slotmatch {

struct Engine::BookingRecord {
    std::atomic<bool> ready{false};  // false: never became a booking
    BookingFields fields;
    std::atomic<BookingEnd> end{BookingEnd::none};
};

enum class HoldStatus : std::uint8_t { creating = 0, live = 1, refused = 2 };

struct Engine::HoldRecord {
    std::atomic<HoldStatus> status{HoldStatus::creating};  // fields are final once live
    SlotId slot;
    PatientKey patient;
    Instant expires_at;
};

struct Engine::BlockRecord {
    std::atomic<bool> ready{false};
    std::atomic<bool> active{false};
    ResourceIdx resource;
    Instant from;
    Instant to;
};

enum class WaitlistState : std::uint8_t { unset = 0, waiting = 1, removed = 2 };

struct Engine::WaitlistRecord {
    std::atomic<WaitlistState> state{WaitlistState::unset};
    UnitIdx unit;
    TypeIdx type;
    PatientKey patient;
    Instant added_at;
};

// Room in the event ring for an operation's events, taken before anything changes; what is not
// used is given back when the operation ends.
class Engine::Reservation {
  public:
    Reservation(EventRing& ring, std::size_t n) : ring_(ring), left_(ring.try_reserve(n) ? n : 0) {}
    ~Reservation() {
        if (left_ > 0) ring_.unreserve(left_);
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    bool ok() const { return left_ > 0; }
    void publish(const Event& e) {
        SM_ASSERT(left_ > 0);
        --left_;
        ring_.publish(e);
    }

  private:
    EventRing& ring_;
    std::size_t left_;
};

inline constexpr Instant end_of_time{std::int64_t{1} << 62};

// Record indices are ids minus one, so that id 0 means "none" on the wire.
inline std::uint64_t index_of(BookingId b) {
    return b.value - 1;
}
inline std::uint64_t index_of(HoldId h) {
    return h.value - 1;
}
inline std::uint64_t index_of(BlockId k) {
    return k.value - 1;
}

// Slot words change with sequentially consistent CAS and loads where a booking path and a
// block, unblock or type removal must see each other's changes (a Dekker-style handshake:
// each side writes its own flag or word, then reads the other's). On x86 these cost the same
// as acquire/release.
inline constexpr std::memory_order word_order = std::memory_order_seq_cst;

}  // namespace slotmatch
