// Rebook, cancel and the patient's bookings: operations on an existing booking.
#include <algorithm>
#include <slotmatch/failpoint.hpp>

#include "engine_records.hpp"

namespace slotmatch {
namespace {

// R23: a change made less than 24 real hours before the previous visit's start is a billable
// late cancellation; exactly 24 hours before is not.
bool billable_change(Instant changed_at, Instant previous_start) {
    return previous_start.value - changed_at.value < 24 * seconds_per_hour;
}

}  // namespace

// INVALID_REQUEST, UNAUTHORIZED, BOOKING_NOT_FOUND, BOOKING_ALREADY_CANCELLED, in that order.
// Web and proxy requests reach only the named citizen's bookings: another citizen's booking,
// or an ended one whose owner can no longer be shown, is reported as not found, so that its
// existence does not leak. Reads only the booking's atomic identity (see identify()): the
// caller takes the patient's claim before it reads the details.
Outcome<Engine::BookingRef> Engine::check_booking_access(const Actor& actor, BookingId b,
                                                         PatientKey patient) const {
    using Out = Outcome<BookingRef>;
    using Kind = BookingRef::Kind;
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    const bool citizen = actor.channel != Channel::staff;
    if (citizen && !valid_patient(patient)) {
        return Out::refuse(ErrorCode::invalid_request, "patient",
                           "not a personnummer or samordningsnummer");
    }
    const auto not_found = Out::refuse(ErrorCode::booking_not_found, "booking", "no such booking");
    const auto ended = Out::refuse(ErrorCode::booking_already_cancelled, "booking",
                                   "the booking was cancelled or rebooked");
    const BookingRef ref = identify(b);
    if (ref.kind == Kind::unknown || (citizen && ref.kind == Kind::ended_forgotten)) {
        return not_found;
    }
    if (ref.kind == Kind::ended_forgotten) return ended;  // staff: the unit cannot be shown
    if (citizen && ref.patient != patient) return not_found;
    const UnitIdx unit = catalog_.resource(ResourceIdx{index_.record(ref.slot).resource}).unit;
    if (!acts_in_unit(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "booking", "staff act only in their own unit");
    }
    if (ref.kind == Kind::ended || !active_booking(b)) return ended;
    return {ErrorCode::ok, {}, {}, ref};
}

// Ends a booking's life in its record: old ids stop reaching its details, and the record is
// reused (unless its generation has run out of id bits). The caller holds the patient's claim
// and has built its reply and event.
void Engine::retire(BookingId b, Reservation& lane) {
    BookingRecord& rec = (*bookings_)[index_of(b)];
    // Only the booking's owner, under the patient's claim, changes the generation now: a plain
    // store, no read-modify-write.
    const std::uint32_t made_in = rec.generation.load(std::memory_order_relaxed);
    // Only a live booking ends: published, in the (even) generation its id carries.
    SM_ASSERT(made_in == generation_of(b) && rec.ready.load(std::memory_order_relaxed));
    const std::uint32_t ended = made_in + 1;
    rec.generation.store(ended, std::memory_order_release);
    rec.ready.store(false, std::memory_order_release);
    if (ended + 1 <= booking_generation_limit) put_record(lane, index_of(b));
}

// The booking's slot goes to rest (free, blocked or removed) and leaves the patient's list;
// returns the slot word it leaves behind. `word` is the slot's word as the caller read it and
// `rest` the word it published for the release (rest_word of it). The caller holds the
// patient's claim, so nothing else can end this booking meanwhile.
std::uint64_t Engine::release_source(BookingId b, PatientRecord& patient, std::uint64_t word,
                                     std::uint64_t rest) {
    BookingRecord& rec = (*bookings_)[index_of(b)];
    SlotRecord& slot = index_.record(SlotId{rec.slot.load(std::memory_order_relaxed)});
    std::uint64_t w = word;
    for (bool first = true;; first = false) {
        if (SlotWord::state(w) != SlotState::booked || SlotWord::owner(w) != index_of(b)) {
            // Only a broken CAS elsewhere can take a booked slot from its booking; the tests'
            // rebook mutant does, on purpose, and its history then shows the damage.
            SM_ASSERT(SM_MUTANT("engine.rebook_without_cas"));
            return w;
        }
        if (!first) rest = rest_word(slot, w);  // a spurious CAS failure: the same word again
        SM_FAILPOINT("release_source:before_cas");
        if (slot.word.compare_exchange_weak(w, rest, word_order)) break;
    }
    // The word installed is the slot at rest, one version on: free with no owner, or blocked.
    SM_ASSERT(SlotWord::version(rest) == ((SlotWord::version(w) + 1) & SlotWord::version_mask));
    SM_ASSERT(SlotWord::state(rest) == SlotState::blocked ||
              (SlotWord::state(rest) == SlotState::free && SlotWord::owner(rest) == 0));
    // A rebook already put its new booking in this one's place; an ended visit may have been
    // forgotten already.
    auto* last = patient.bookings.begin() + patient.booking_count;
    auto* at = std::find(patient.bookings.begin(), last, b);
    if (at != last) {
        *at = *(last - 1);
        --patient.booking_count;
    }
    return settle(slot, rest);
}

// The rebook's target: the named slot, or the earliest free one on the same resource and type
// (R16). Skips candidates lost to parallel bookings.
Outcome<Engine::Taken> Engine::take_for_rebook(const Actor& actor, const RebookRequest& request,
                                               const BookingRef& source,
                                               const BookingFields& fields, PatientRecord& patient,
                                               Reservation& lane) {
    const SlotRecord& from = index_.record(source.slot);
    const Target target{source.patient, std::nullopt, request.booking,
                        TypeIdx{from.type.load(std::memory_order_relaxed)},
                        ResourceIdx{from.resource}};
    if (request.slot) return take_slot(actor, *request.slot, target, fields, patient, lane);
    auto taken = Outcome<Taken>::refuse(ErrorCode::slot_not_available, "slot",
                                        "no free slot on the same resource and type");
    const Shard* shard = index_.shard(target.same_resource, target.same_type);
    Instant after{clock_.now().value + 1};
    for (std::size_t round = 0; shard != nullptr && round < limits_.match_attempts_max; ++round) {
        auto candidate = first_free(actor, *shard, after, end_of_time, source.slot);
        if (!candidate) break;
        taken = take_slot(actor, *candidate, target, fields, patient, lane);
        if (taken.ok() || (taken.code != ErrorCode::slot_already_reserved &&
                           taken.code != ErrorCode::patient_already_occupied)) {
            break;
        }
        after = Instant{index_.record(*candidate).start_s + 1};  // one resource: one slot a start
    }
    return taken;
}

// Whether this actor may move this booking (to the named slot): the checks between access to
// the booking and the time, in the order of ARCHITECTURE.md's error precedence.
Outcome<bool> Engine::check_rebook(const Actor& actor, const RebookRequest& request,
                                   const BookingRef& source) const {
    using Out = Outcome<bool>;
    const SlotRecord& from = index_.record(source.slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{from.resource}).unit;
    if (request.slot && *request.slot == source.slot) {
        return Out::refuse(ErrorCode::invalid_request, "slot", "the booking is on that slot");
    }
    if (request.slot &&
        !acts_in_unit(actor,
                      catalog_.resource(ResourceIdx{index_.record(*request.slot).resource}).unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot", "staff act only in their own unit");
    }
    const AppointmentType& t = type_now(TypeIdx{from.type.load(std::memory_order_relaxed)});
    // R4 (proxy may not rebook), R6, R7, R25 ("Av/omboka tid").
    if (actor.channel == Channel::proxy ||
        (actor.channel == Channel::web &&
         !(t.web_rebookable && t.web_visible() && web_now(unit).cancel_rebook_active))) {
        return Out::refuse(ErrorCode::rebook_not_allowed, "booking",
                           "this booking may not be rebooked on this channel");
    }
    return {};
}

// The details the new booking takes over: the patient's (R18) move with it, "changed by" and
// "changed at" are this change's (R17). Read under the patient's claim.
BookingFields Engine::moved_fields(const Actor& actor, BookingId b, Instant now) const {
    BookingFields fields = (*bookings_)[index_of(b)].fields;
    fields.channel = actor.channel;
    fields.actor = actor.id;
    fields.actor_name = actor.name;
    fields.changed_at = now;
    return fields;
}

Outcome<MoveResult> Engine::rebook(const Actor& actor, const RebookRequest& request) {
    using Out = Outcome<MoveResult>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (request.slot && !index_.contains(*request.slot)) {
        return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    }
    auto access = check_booking_access(actor, request.booking, request.patient);
    if (!access.ok()) return Out::refuse(access);
    const BookingRef source = access.value;
    SM_ASSERT(source.id == request.booking);  // finish_rebook ends the booking by source.id
    if (auto bad = check_rebook(actor, request, source); !bad.ok()) return Out::refuse(bad);
    const Instant now = clock_.now();
    if (index_.record(source.slot).start_s <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "booking", "the booked visit has started");
    }
    PatientRecord* patient = patients_->find(source.patient);
    SM_ASSERT(patient != nullptr);  // made by the source's booking, and never removed
    PatientClaim claim(*patient);
    if (!active_booking(request.booking)) {  // ended between the check and the claim
        return Out::refuse(ErrorCode::booking_already_cancelled, "booking",
                           "the booking was cancelled or rebooked");
    }
    const BookingFields fields = moved_fields(actor, request.booking, now);
    auto taken = take_for_rebook(actor, request, source, fields, *patient, reservation);
    if (!taken.ok()) return Out::refuse(taken);
    // The source's record is in use until the move ends, so the target never took it.
    SM_ASSERT(index_of(taken.value.id) != index_of(request.booking));
    MoveResult result = finish_rebook(actor, source, taken.value, fields, *patient, reservation);
    return {ErrorCode::ok, {}, {}, result};
}

// The target is ours; now the source goes to rest. Between the two CASes both slots are
// unavailable to others, never both free, and the patient's list swaps one for the other under
// the claim (the caller's).
// The event is published before the source is freed: a booking of the freed slot on another
// thread is answered after it, so in persisted mode it is acknowledged only once this move is
// durable too (else a crash could keep that booking and lose the move, and with it the
// patient's booking). `released` is the word the release installs (the same version; a block
// or removal registering meanwhile is settled after, as recovery does).
MoveResult Engine::finish_rebook(const Actor& actor, const BookingRef& source, const Taken& target,
                                 const BookingFields& fields, PatientRecord& patient,
                                 Reservation& reservation) {
    const SlotRecord& from = index_.record(source.slot);
    const Instant now = fields.changed_at;
    const std::uint64_t source_before = from.word.load(word_order);
    const std::uint64_t source_rest = rest_word(from, source_before);

    MoveResult result;
    result.previous = source.id;
    result.billable = billable_change(now, Instant{from.start_s});
    result.booking = view(target.id);
    Event& e = reservation.event();
    stamp(e, actor, EventKind::rebooked, catalog_.resource(ResourceIdx{from.resource}).unit);
    e.time = now;  // the new booking's "changed at"
    e.resource = ResourceIdx{from.resource};
    e.before = snapshot(source.slot, source_before);
    e.after = snapshot(result.booking.slot.id, target.after);
    e.released = snapshot(source.slot, source_rest);
    e.booking = target.id;
    e.patient = source.patient;
    e.billable = result.billable;
    e.from_waitlist = fields.from_waitlist;
    e.waitlisted_at = fields.waitlisted_at;
    e.phone = fields.phone;  // R18, unchanged by the move: the web booking log shows them (R21)
    e.reason = fields.reason;
    reservation.publish();
    release_source(source.id, patient, source_before, source_rest);
    retire(source.id, reservation);
    return result;
}

Outcome<MoveResult> Engine::cancel(const Actor& actor, BookingId b, PatientKey patient_key) {
    using Out = Outcome<MoveResult>;
    Reservation reservation(*events_, 2);  // cancelled, and maybe returned_to_waitlist (R22)
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    auto access = check_booking_access(actor, b, patient_key);
    if (!access.ok()) return Out::refuse(access);
    const BookingRef ref = access.value;
    SlotRecord& slot = index_.record(ref.slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{slot.resource}).unit;
    const TypeIdx type{slot.type.load(std::memory_order_relaxed)};
    const AppointmentType& t = type_now(type);
    // R3 (web and proxy), R5, R6, R7, R25 (web only: "Av/omboka tid").
    const bool type_allows = t.web_cancellable && t.web_visible();
    if ((actor.channel == Channel::proxy && !type_allows) ||
        (actor.channel == Channel::web && !(type_allows && web_now(unit).cancel_rebook_active))) {
        return Out::refuse(ErrorCode::cancel_not_allowed, "booking",
                           "this booking may not be cancelled on this channel; contact the unit");
    }
    const Instant now = clock_.now();
    if (slot.start_s <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "booking", "the booked visit has started");
    }
    PatientRecord* found = patients_->find(ref.patient);
    SM_ASSERT(found != nullptr);  // made by the booking, and never removed
    PatientRecord& patient = *found;
    PatientClaim claim(patient);
    if (!active_booking(b)) {
        return Out::refuse(ErrorCode::booking_already_cancelled, "booking",
                           "the booking was cancelled or rebooked");
    }
    const BookingFields& booking = (*bookings_)[index_of(b)].fields;  // stable under the claim
    // Published before the slot is freed, as in rebook: `after` is the word the release installs.
    const std::uint64_t before = slot.word.load(word_order);
    const std::uint64_t after = rest_word(slot, before);

    // R22: booked from the waitlist and cancelled on the web: back on the waitlist, in the
    // place they had (a booking from before waitlist places were kept: at the end). Its record
    // is taken first: a full waitlist refuses the cancel rather than skip the return.
    std::optional<std::uint64_t> back_at;
    if (actor.channel == Channel::web && booking.from_waitlist &&
        !find_waiting(unit, type, booking.patient) && !(back_at = waitlist_->allocate())) {
        return Out::refuse(ErrorCode::overloaded, "", waitlist_full_text);
    }
    MoveResult result;
    result.billable = billable_change(now, Instant{slot.start_s});
    Event& e = reservation.event();
    stamp(e, actor, EventKind::cancelled, unit);
    e.resource = ResourceIdx{slot.resource};
    e.before = snapshot(booking.slot_id, before);
    e.after = snapshot(booking.slot_id, after);
    e.booking = b;
    e.patient = booking.patient;
    e.billable = result.billable;
    e.from_waitlist = booking.from_waitlist;
    e.waitlisted_at = booking.waitlisted_at;
    e.phone = booking.phone;  // R18: the cancelled booking's, for the web booking log (R21)
    e.reason = booking.reason;
    reservation.publish();
    release_source(b, patient, before, after);
    result.booking = view(b);
    if (back_at) {
        const Instant place = booking.waitlisted_at.value != 0 ? booking.waitlisted_at : now;
        fill_waiting(*back_at, unit, type, booking.patient, place);
        result.returned_to_waitlist = true;
        Event& back = reservation.event();
        stamp(back, actor, EventKind::returned_to_waitlist, unit);
        back.time = now;
        back.patient = booking.patient;
        back.type = type;
        back.booking = b;
        back.entry = waiting_at(*back_at)->id;
        back.waitlisted_at = place;
        reservation.publish();
    }
    retire(b, reservation);
    return {ErrorCode::ok, {}, {}, result};
}

// The patient's upcoming bookings the caller may see: web and proxy never see bookings of
// hidden types (R6) or of types without a web name (R7); staff see those in their own unit.
Outcome<std::vector<BookingView>> Engine::bookings(const Actor& actor,
                                                   PatientKey patient_key) const {
    using Out = Outcome<std::vector<BookingView>>;
    if (auto bad = check_request_patient(actor, patient_key); !bad.ok()) return Out::refuse(bad);
    Out out;
    PatientRecord* patient = patients_->find(patient_key);
    if (patient == nullptr) return out;
    const Instant now = clock_.now();
    PatientClaim claim(*patient);
    for (std::uint32_t i = 0; i < patient->booking_count; ++i) {
        BookingView b = view(patient->bookings[i]);
        const AppointmentType& t = type_now(b.slot.type);
        if (b.slot.end.value <= now.value ||
            (actor.channel == Channel::staff ? !acts_in_unit(actor, b.slot.unit)
                                             : !t.web_visible())) {
            continue;
        }
        out.value.push_back(b);
    }
    std::sort(out.value.begin(), out.value.end(), [](const BookingView& a, const BookingView& b) {
        return a.slot.start < b.slot.start;
    });
    return out;
}

}  // namespace slotmatch
