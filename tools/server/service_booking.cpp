// GetBooking (ARCHITECTURE.md, "Administration": `booking --booking B`): one booking's details in
// any state, for the staff of its unit (R19: a web booking log row opens its booking). A live
// booking is read from the engine; one that ended is read from the store, among the events filed
// under its patient: the engine still knows the patient of an ended booking whose record it has
// not reused, and for an older one the request names the patient (the log row shows both).
#include <slotmatch/codec.hpp>

#include "answers.hpp"
#include "service.hpp"
#include "store_queries.hpp"

namespace slotmatch::tools {

namespace fb = flatbuffers;
using answers::accepted;
using answers::refused;

namespace {

constexpr std::string_view not_the_units = "only the unit's staff see its bookings' details";

fb::Offset<wire::BookingDetails> details(fb::FlatBufferBuilder& b, const BookingView& v,
                                         const Event* ended) {
    const auto booking = codec::encode_booking(b, v);
    if (ended == nullptr) return wire::CreateBookingDetails(b, booking, wire::BookingState::active);
    const auto by = b.CreateString(ended->actor.view());
    const auto name = ended->actor_name.empty() ? 0 : b.CreateString(ended->actor_name.view());
    const bool rebooked = ended->kind == EventKind::rebooked;
    return wire::CreateBookingDetails(
        b, booking, rebooked ? wire::BookingState::rebooked : wire::BookingState::cancelled,
        ended->time.value, codec::to_wire(ended->channel), by, name,
        rebooked ? ended->booking.value : 0, ended->billable);
}

// The booking as the event that made it recorded it, on its slot (whose id never changes).
BookingView made_by(const Engine& engine, const Event& made) {
    BookingView v;
    static_cast<BookingFields&>(v) = booking_fields(made);
    v.id = made.booking;
    if (const auto s = engine.slot(made.after.slot)) v.slot = *s;
    v.slot.id = made.after.slot;
    v.slot.type = made.after.type;  // as booked: a free slot's type may have changed since
    v.slot.start = made.after.start;
    v.slot.state = SlotState::booked;
    return v;
}

}  // namespace

Service::Answer Service::get_booking(const wire::GetBooking& r, const Actor& actor,
                                     fb::FlatBufferBuilder& b) {
    Outcome<PatientKey> named{ErrorCode::ok, {}, {}, PatientKey{}};
    if (r.patient() != nullptr) named = codec::decode_patient(r.patient(), "patient");
    if (!named.ok()) return refused(b, named);
    if (actor.channel != Channel::staff || !actor.has_unit) {
        return refused(b, ErrorCode::unauthorized, "booking",
                       "a booking's details are for the staff of its unit (--channel staff "
                       "--actor-unit U)");
    }
    const BookingId id{r.booking()};
    const auto seen = engine_.booking(id);
    if (seen && seen->active) {
        if (seen->slot.unit != actor.unit) {
            return refused(b, ErrorCode::unauthorized, "booking", not_the_units);
        }
        return accepted(b, details(b, *seen, nullptr));
    }
    const PatientKey patient = seen && seen->patient.value != 0 ? seen->patient : named.value;
    if (patient.value == 0) {
        return refused(b, ErrorCode::booking_not_found, "booking",
                       "no live booking has this id; an ended one is found among its patient's "
                       "events: name the patient (--patient)");
    }
    if (queries_ == nullptr) return refused(b, ErrorCode::invalid_request, "store", no_store_why_);
    std::string why;
    const auto found = queries_->booking_events(id, patient, why);
    if (!found) {
        return refused(b, ErrorCode::overloaded, "store",
                       "the store cannot be read now; nothing was changed: " + why);
    }
    if (!found->made) {
        return refused(b, ErrorCode::booking_not_found, "booking",
                       "the patient has no booking with this id");
    }
    const BookingView v = made_by(engine_, *found->made);
    if (v.slot.unit != actor.unit) {
        return refused(b, ErrorCode::unauthorized, "booking", not_the_units);
    }
    if (!found->ended) {  // ended in the engine, not yet in the store (memory or async modes)
        return refused(b, ErrorCode::overloaded, "booking",
                       "the booking's end is not in the store yet; retry in a moment");
    }
    return accepted(b, details(b, v, &*found->ended));
}

}  // namespace slotmatch::tools
