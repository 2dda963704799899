// Rebook, cancel and the patient's bookings: operations on an existing booking.
#include "engine_records.hpp"

#include <algorithm>

namespace slotmatch {
namespace {

// R23: a change made less than 24 real hours before the previous visit's start is a billable
// late cancellation; exactly 24 hours before is not.
bool billable_change(Instant changed_at, Instant previous_start) {
    return previous_start.value - changed_at.value < 24 * seconds_per_hour;
}

}  // namespace

// INVALID_REQUEST, UNAUTHORIZED, BOOKING_NOT_FOUND, BOOKING_ALREADY_CANCELLED, in that order.
// Web and proxy requests reach only the named citizen's bookings: another citizen's booking is
// reported as not found, so that its existence does not leak.
Outcome<Engine::BookingRecord*> Engine::check_booking_access(const Actor& actor, BookingId b,
                                                             PatientKey patient) const {
    using Out = Outcome<BookingRecord*>;
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (actor.channel != Channel::staff && !valid_patient(patient)) {
        return Out::refuse(ErrorCode::invalid_request, "patient",
                           "not a personnummer or samordningsnummer");
    }
    if (!booking(b)) return Out::refuse(ErrorCode::booking_not_found, "booking", "no such booking");
    BookingRecord& rec = (*bookings_)[index_of(b)];
    if (actor.channel != Channel::staff && rec.patient != patient) {
        return Out::refuse(ErrorCode::booking_not_found, "booking", "no such booking");
    }
    if (!acts_in_unit(actor, catalog_.resource(ResourceIdx{index_.record(rec.slot).resource}).unit)) {
        return Out::refuse(ErrorCode::unauthorized, "booking", "staff act only in their own unit");
    }
    if (!active_booking(b)) {
        return Out::refuse(ErrorCode::booking_already_cancelled, "booking",
                           "the booking was cancelled or rebooked");
    }
    return {ErrorCode::ok, {}, {}, &rec};
}

// The booking's slot goes back to rest (free, blocked or removed) and leaves the patient's list.
// The caller holds the patient's claim, so nothing else can end this booking meanwhile.
void Engine::release_source(BookingId b, BookingEnd why, PatientRecord& patient) {
    BookingRecord& rec = (*bookings_)[index_of(b)];
    SlotRecord& slot = index_.record(rec.slot);
    std::uint64_t w = slot.word.load(std::memory_order_acquire);
    for (;;) {
        SM_ASSERT(SlotWord::state(w) == SlotState::booked && SlotWord::owner(w) == index_of(b));
        if (slot.word.compare_exchange_weak(w, rest_word(slot, w), std::memory_order_acq_rel)) break;
    }
    rec.end.store(why, std::memory_order_release);
    auto* last = patient.bookings.begin() + patient.booking_count;
    auto* at = std::find(patient.bookings.begin(), last, b);
    SM_ASSERT(at != last);
    *at = *(last - 1);
    --patient.booking_count;
}

Outcome<MoveResult> Engine::rebook(const Actor& actor, const RebookRequest& request) {
    using Out = Outcome<MoveResult>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    auto access = check_booking_access(actor, request.booking, request.patient);
    if (!access.ok()) return Out::refuse(access);
    BookingRecord& source = *access.value;
    const SlotRecord& from = index_.record(source.slot);
    const ResourceIdx resource{from.resource};
    const UnitIdx unit = catalog_.resource(resource).unit;
    const TypeIdx type{from.type.load(std::memory_order_relaxed)};
    const AppointmentType& t = catalog_.type(type);
    // R4 (proxy may not rebook), R6, R7, R25 ("Av/omboka tid").
    if (actor.channel == Channel::proxy ||
        (actor.channel == Channel::web && !(t.web_rebookable && t.web_visible() &&
                                            catalog_.unit(unit).web.cancel_rebook_active))) {
        return Out::refuse(ErrorCode::rebook_not_allowed, "booking",
                           "this booking may not be rebooked on this channel");
    }
    if (request.slot && (!index_.contains(*request.slot) || *request.slot == source.slot)) {
        return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot or the same slot");
    }
    if (request.slot &&
        !acts_in_unit(actor, catalog_.resource(ResourceIdx{index_.record(*request.slot).resource}).unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot", "staff act only in their own unit");
    }
    const Instant now = clock_.now();
    if (from.start_s <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "booking", "the booked visit has started");
    }
    PatientRecord& patient = *patients_.find(source.patient);
    auto idx = bookings_->allocate();
    if (!idx) return Out::refuse(ErrorCode::overloaded, "", "booking table full");
    BookingRecord& fresh = (*bookings_)[*idx];
    fresh.patient = source.patient;
    fresh.channel = actor.channel;
    fresh.actor = actor.id;
    fresh.actor_name = actor.name;
    fresh.changed_at = now;
    fresh.from_waitlist = source.from_waitlist;
    fresh.phone = source.phone;
    fresh.reason = source.reason;

    PatientClaim claim(patient);
    if (!active_booking(request.booking)) {  // cancelled between the check and the claim
        return Out::refuse(ErrorCode::booking_already_cancelled, "booking",
                           "the booking was cancelled or rebooked");
    }
    Target target{source.patient, std::nullopt, request.booking, type, resource};
    Outcome<Taken> taken = Outcome<Taken>::refuse(ErrorCode::slot_not_available, "slot",
                                                  "no free slot on the same resource and type");
    if (request.slot) {
        taken = take_slot(actor, *request.slot, target, patient, *idx);
    } else {
        // --first: the earliest free slot on the same resource and type (R16).
        const Shard& shard = *index_.shard(resource, type);
        Instant after{now.value + 1};
        for (std::size_t round = 0; round < limits_.match_attempts_max; ++round) {
            auto candidate = first_free(actor, shard, after, Instant{std::int64_t{1} << 62},
                                        source.slot);
            if (!candidate) break;
            taken = take_slot(actor, *candidate, target, patient, *idx);
            if (taken.ok() || taken.code != ErrorCode::slot_already_reserved) break;
            after = Instant{index_.record(*candidate).start_s};
        }
    }
    if (!taken.ok()) return Out::refuse(taken);
    // The target is ours; now the source goes back to rest. Between the two CASes both slots
    // are unavailable to others, never both free: no moment where the patient has neither.
    const std::uint64_t source_before = index_.record(source.slot).word.load(std::memory_order_acquire);
    patient.bookings[patient.booking_count++] = taken.value.id;
    release_source(request.booking, BookingEnd::rebooked, patient);

    MoveResult result;
    result.previous = request.booking;
    result.billable = billable_change(now, Instant{from.start_s});
    result.booking = view(taken.value.id);
    Event e = event_for(actor, EventKind::rebooked, unit);
    e.resource = resource;
    e.before = snapshot(source.slot, source_before);
    e.after = snapshot(fresh.slot, taken.value.after);
    e.booking = taken.value.id;
    e.patient = source.patient;
    e.billable = result.billable;
    e.from_waitlist = fresh.from_waitlist;
    reservation.publish(e);
    return {ErrorCode::ok, {}, {}, result};
}

Outcome<MoveResult> Engine::cancel(const Actor& actor, BookingId b, PatientKey patient_key) {
    using Out = Outcome<MoveResult>;
    Reservation reservation(*events_, 2);  // cancelled, and maybe returned_to_waitlist (R22)
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    auto access = check_booking_access(actor, b, patient_key);
    if (!access.ok()) return Out::refuse(access);
    BookingRecord& booking = *access.value;
    const SlotRecord& slot = index_.record(booking.slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{slot.resource}).unit;
    const TypeIdx type{slot.type.load(std::memory_order_relaxed)};
    const AppointmentType& t = catalog_.type(type);
    // R3 (web and proxy), R5, R6, R7, R25 (web only: "Av/omboka tid").
    const bool type_allows = t.web_cancellable && t.web_visible();
    if ((actor.channel == Channel::proxy && !type_allows) ||
        (actor.channel == Channel::web &&
         !(type_allows && catalog_.unit(unit).web.cancel_rebook_active))) {
        return Out::refuse(ErrorCode::cancel_not_allowed, "booking",
                           "this booking may not be cancelled on this channel; contact the unit");
    }
    const Instant now = clock_.now();
    if (slot.start_s <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "booking", "the booked visit has started");
    }
    PatientRecord& patient = *patients_.find(booking.patient);
    PatientClaim claim(patient);
    if (!active_booking(b)) {
        return Out::refuse(ErrorCode::booking_already_cancelled, "booking",
                           "the booking was cancelled or rebooked");
    }
    const std::uint64_t before = slot.word.load(std::memory_order_acquire);
    release_source(b, BookingEnd::cancelled, patient);

    MoveResult result;
    result.billable = billable_change(now, Instant{slot.start_s});
    result.booking = view(b);
    Event e = event_for(actor, EventKind::cancelled, unit);
    e.resource = ResourceIdx{slot.resource};
    e.before = snapshot(booking.slot, before);
    e.after = snapshot(booking.slot, slot.word.load(std::memory_order_acquire));
    e.booking = b;
    e.patient = booking.patient;
    e.billable = result.billable;
    e.from_waitlist = booking.from_waitlist;
    reservation.publish(e);
    // R22: booked from the waitlist and cancelled on the web: back on the waitlist.
    if (actor.channel == Channel::web && booking.from_waitlist && !find_waiting(unit, type, booking.patient)) {
        if (add_waiting(unit, type, booking.patient)) {
            result.returned_to_waitlist = true;
            Event back = event_for(actor, EventKind::returned_to_waitlist, unit);
            back.patient = booking.patient;
            back.type = type;
            back.booking = b;
            reservation.publish(back);
        }
    }
    return {ErrorCode::ok, {}, {}, result};
}

// The patient's active bookings the caller may see: web and proxy never see bookings of hidden
// types (R6) or of types without a web name (R7); staff see those in their own unit.
Outcome<std::vector<BookingView>> Engine::bookings(const Actor& actor, PatientKey patient_key) const {
    using Out = Outcome<std::vector<BookingView>>;
    if (auto bad = check_request_patient(actor, patient_key); !bad.ok()) return Out::refuse(bad);
    Out out;
    PatientRecord* patient = patients_.find(patient_key);
    if (patient == nullptr) return out;
    PatientClaim claim(*patient);
    for (std::uint32_t i = 0; i < patient->booking_count; ++i) {
        BookingView b = view(patient->bookings[i]);
        const AppointmentType& t = catalog_.type(b.slot.type);
        if (actor.channel == Channel::staff ? !acts_in_unit(actor, b.slot.unit) : !t.web_visible()) {
            continue;
        }
        out.value.push_back(b);
    }
    std::sort(out.value.begin(), out.value.end(),
              [](const BookingView& a, const BookingView& b) { return a.slot.start < b.slot.start; });
    return out;
}

}  // namespace slotmatch
