// The domain's words as strong types (liquibook style). Every id that crosses an API is one of
// these, never a bare integer, so a slot id cannot be passed where a booking id is expected.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace slotmatch {

// A typed integer. Tag makes SlotId and BookingId distinct types with the same representation.
template <typename Tag, typename Rep>
struct StrongId {
    using value_type = Rep;
    Rep value{};
    constexpr StrongId() = default;
    constexpr explicit StrongId(Rep v) : value(v) {}
    friend constexpr auto operator<=>(StrongId,
                                      StrongId) = default;  // NOLINT(modernize-use-nullptr)
};

// Dense indices into the catalog's arrays (assigned at load, stable for the process lifetime).
using ProviderIdx = StrongId<struct ProviderTag, std::uint32_t>;
using UnitIdx = StrongId<struct UnitTag, std::uint32_t>;
using ResourceIdx = StrongId<struct ResourceTag, std::uint32_t>;
using TypeIdx = StrongId<struct TypeTag, std::uint32_t>;  // appointment type (tidstyp)

// Runtime identities. A SlotId is the slot's index in the region's slot table.
using SlotId = StrongId<struct SlotTag, std::uint32_t>;
using BookingId = StrongId<struct BookingTag, std::uint64_t>;
using HoldId = StrongId<struct HoldTag, std::uint64_t>;
using BlockId = StrongId<struct BlockTag, std::uint64_t>;
using WaitlistEntryId = StrongId<struct WaitlistEntryTag, std::uint64_t>;
// A schedule's id, given when it is published (1, 2, ...; 0 is none) and kept for good.
using ScheduleId = StrongId<struct ScheduleTag, std::uint32_t>;

// A patient is known by the 12 digits of a personnummer or samordningsnummer (YYYYMMDDNNNC);
// as a number it is below 10^12 < 2^40.
using PatientKey = StrongId<struct PatientTag, std::uint64_t>;
inline constexpr std::uint64_t patient_key_limit = 1'000'000'000'000ULL;

// Time: seconds since the Unix epoch (UTC). Local calendar days come from the calendar module.
using Instant = StrongId<struct InstantTag, std::int64_t>;
inline constexpr std::int64_t seconds_per_minute = 60;
inline constexpr std::int64_t seconds_per_hour = 3600;
inline constexpr std::int64_t seconds_per_day = 86400;

// Who acts: the 1177 web gateway on a citizen's behalf, a proxy organisation (1177 phone service,
// emergency department, another unit), or staff inside the journal system.
enum class Channel : std::uint8_t { web = 0, proxy = 1, staff = 2 };
inline constexpr std::size_t channel_count = 3;
std::string_view to_string(Channel c);

enum class SlotState : std::uint8_t { free = 0, held = 1, booked = 2, blocked = 3 };
std::string_view to_string(SlotState s);

// Refusal codes of ARCHITECTURE.md, declared in the order of precedence: when several apply,
// the lowest value is reported.
enum class ErrorCode : std::uint8_t {
    ok = 0,
    overloaded,
    invalid_request,
    unauthorized,
    booking_not_found,
    booking_already_cancelled,
    appointment_not_allowed,
    cancel_not_allowed,
    rebook_not_allowed,
    slot_has_passed,
    slot_not_available,
    hold_expired,
    slot_already_reserved,
    patient_already_occupied,
};
std::string_view to_string(ErrorCode e);  // "SLOT_ALREADY_RESERVED", ...

// A string of bounded length stored inline, so records that carry actor names, phone numbers
// and reasons stay trivially copyable and never allocate on the hot path.
template <std::size_t Capacity>
struct FixedString {
    static_assert(Capacity > 0 && Capacity < 256, "length is kept in one byte");
    std::array<char, Capacity> bytes{};
    std::uint8_t length = 0;

    static constexpr std::size_t capacity() { return Capacity; }
    static bool fits(std::string_view s) { return s.size() <= Capacity; }
    // Callers check fits() first: input that is too long is an INVALID_REQUEST, not a truncation.
    static FixedString from(std::string_view s) {
        FixedString f;
        f.length = static_cast<std::uint8_t>(std::min(s.size(), Capacity));
        // An empty view may have no data at all: memcpy from null is undefined even for 0 bytes
        // (found by the protocol's fuzz target, docs/security.md).
        if (f.length > 0) std::memcpy(f.bytes.data(), s.data(), f.length);
        return f;
    }
    std::string_view view() const { return {bytes.data(), length}; }
    bool empty() const { return length == 0; }
    friend bool operator==(const FixedString& a, const FixedString& b) {
        return a.view() == b.view();
    }
};

using ActorText = FixedString<48>;    // staff id, proxy organisation, gateway identity
using ActorName = FixedString<64>;    // staff user's display name
using PhoneText = FixedString<24>;    // R18
using ReasonText = FixedString<120>;  // R18

// The caller of an operation. The server fills it from the request (or the CurveZMQ key).
struct Actor {
    Channel channel = Channel::web;
    ActorText id;
    ActorName name;
    bool has_unit = false;  // staff and unit-to-unit proxies act from a unit
    UnitIdx unit;
    // Region-wide and proxy appointment types (R8) are changed only by a region administrator
    // (a role of the request until keys exist; then of the key's registry entry).
    bool region_admin = false;
};

}  // namespace slotmatch
