// Find, hold and book: the operations that take a free slot.
#include <algorithm>
#include <slotmatch/failpoint.hpp>
#include <slotmatch/static_text.hpp>
#include <thread>

#include "engine_records.hpp"

namespace slotmatch {
namespace {

constexpr StaticText bookings_full_text =
    static_text("the patient has the most upcoming bookings allowed (", patient_bookings_max, ")");

// Runs `check` on a reading of the slot word until the word is the same after the check as
// before, so that a refusal never rests on a hold record that was reused in between (a hold
// record is reached through the word and may change once the word has moved on).
template <typename Check>
Outcome<bool> decide_on_stable_word(const SlotRecord& rec, std::uint64_t& w, Check&& check) {
    for (;;) {
        auto verdict = check(w);
        if (verdict.ok()) return verdict;
        const std::uint64_t again = rec.word.load(word_order);
        if (again == w) return verdict;
        w = again;
    }
}

}  // namespace

// ---- find --------------------------------------------------------------------------------

std::optional<SlotId> Engine::first_free(const Actor& actor, const Shard& shard, Instant from,
                                         Instant to, std::optional<SlotId> skip) const {
    const Instant now = clock_.now();
    const bool citizen = actor.channel != Channel::staff;
    if (citizen) to = std::min(to, shard_window_end(shard.type, now));
    std::optional<SlotId> found;
    index_.for_each_between(shard, from, to, [&](SlotId s) {
        const SlotRecord& rec = index_.record(s);
        if (rec.type.load(std::memory_order_relaxed) != shard.type.value || s == skip) return true;
        if (!open(rec.word.load(word_order), now) || covered(rec)) return true;
        if (citizen && !within_window(rec, now)) return true;
        found = s;
        return false;
    });
    return found;
}

std::optional<SlotView> Engine::earliest_free(const Actor& actor, ResourceIdx resource,
                                              TypeIdx type, Instant from) const {
    if (resource.value >= catalog_.resources.size() || type.value >= type_count()) {
        return std::nullopt;
    }
    const UnitIdx unit = catalog_.resource(resource).unit;
    const Shard* shard = index_.shard(resource, type);
    if (shard == nullptr || !acts_in_unit(actor, unit) ||
        may_book_type(actor, unit, type) != ErrorCode::ok) {
        return std::nullopt;
    }
    const Instant after{std::max(from.value, clock_.now().value + 1)};
    auto found = first_free(actor, *shard, after, end_of_time, std::nullopt);
    if (!found) return std::nullopt;
    return view(*found);
}

Outcome<std::vector<SlotView>> Engine::find(const Actor& actor, const SlotQuery& q) const {
    using Out = Outcome<std::vector<SlotView>>;
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (auto bad = check_query(q); !bad.ok()) return Out::refuse(bad);
    if (!acts_in_unit(actor, q.unit)) {
        return Out::refuse(ErrorCode::unauthorized, "unit", "staff act only in their own unit");
    }
    const Instant now = clock_.now();
    // Slots that have started are never bookable (R11).
    const Instant from{std::max(q.from.value_or(now).value, now.value + 1)};
    const Instant to = q.to.value_or(end_of_time);
    Out out;
    for (ResourceIdx r : catalog_.unit(q.unit).resources) {
        if (q.resource && *q.resource != r) continue;
        for (const Shard* shard : index_.shards_of(r)) {
            if ((q.type && *q.type != shard->type) ||
                may_book_type(actor, q.unit, shard->type) != ErrorCode::ok) {
                continue;
            }
            const bool citizen = actor.channel != Channel::staff;
            const Instant shard_to =
                citizen ? std::min(to, shard_window_end(shard->type, now)) : to;
            std::size_t taken = 0;
            index_.for_each_between(*shard, from, shard_to, [&](SlotId s) {
                const SlotRecord& rec = index_.record(s);
                if (rec.type.load(std::memory_order_relaxed) != shard->type.value) return true;
                if (!open(rec.word.load(word_order), now) || covered(rec)) return true;
                if (citizen && !within_window(rec, now)) return true;
                out.value.push_back(view(s));
                return ++taken < q.limit;
            });
        }
    }
    std::sort(out.value.begin(), out.value.end(), [](const SlotView& a, const SlotView& b) {
        return a.start != b.start ? a.start < b.start : a.id < b.id;
    });
    if (out.value.size() > q.limit) out.value.resize(q.limit);
    return out;
}

// ---- hold --------------------------------------------------------------------------------

// The checks a hold shares with a booking, from one reading of the slot word.
Outcome<bool> Engine::check_hold(const Actor& actor, const SlotRecord& rec, std::uint64_t w,
                                 Instant now) const {
    using Out = Outcome<bool>;
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    const TypeIdx type{rec.type.load(std::memory_order_relaxed)};
    if (may_book_type(actor, unit, type) != ErrorCode::ok) {
        return Out::refuse(ErrorCode::appointment_not_allowed, "slot",
                           "this channel may not book this appointment type here");
    }
    if (rec.start_s <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "slot", "the slot has started");
    }
    if (SlotWord::state(w) == SlotState::blocked || covered(rec) ||
        (actor.channel != Channel::staff && !within_window(rec, now))) {
        return Out::refuse(ErrorCode::slot_not_available, "slot",
                           "blocked, removed, or outside the booking window");
    }
    if (!open(w, now)) {
        return Out::refuse(ErrorCode::slot_already_reserved, "slot", "the slot is taken");
    }
    return {};
}

Outcome<HoldView> Engine::hold(const Actor& actor, SlotId slot, PatientKey patient) {
    using Out = Outcome<HoldView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_request_patient(actor, patient); !bad.ok()) return Out::refuse(bad);
    if (!index_.contains(slot))
        return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    if (!acts_in_unit(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot", "staff act only in their own unit");
    }
    const Instant now = clock_.now();
    const auto check = [&](std::uint64_t word) { return check_hold(actor, rec, word, now); };
    std::uint64_t w = rec.word.load(word_order);
    if (auto bad = decide_on_stable_word(rec, w, check); !bad.ok()) return Out::refuse(bad);
    auto idx = holds_->allocate();  // only now: a refusal above costs no capacity
    if (!idx) return Out::refuse(ErrorCode::overloaded, "", "hold table full");
    HoldRecord& h = (*holds_)[*idx];
    SM_ASSERT(!h.live.load(std::memory_order_relaxed));  // handed out only once its hold ended
    // The id's generation, read while this thread owns the record: once the hold is live the
    // sweep may end it and move the generation on before hold() returns.
    const HoldId id = hold_id(*idx, h.generation.load(std::memory_order_relaxed));
    const Instant expires_at{now.value + catalog_.hold_ttl_s};
    h.slot.store(slot.value, std::memory_order_relaxed);
    h.patient.store(patient.value, std::memory_order_relaxed);
    h.expires_at.store(expires_at.value, std::memory_order_release);
    for (;;) {
        const SlotSnapshot before = snapshot(slot, w);  // before the CAS: see Taken::before
        const std::uint64_t held = SlotWord::next(w, SlotState::held, *idx);
        if (rec.word.compare_exchange_strong(w, held, word_order)) {
            h.live.store(true, std::memory_order_release);
            // Into the expiry queue: the sweep ends the hold and releases the record.
            const std::uint64_t pos = hold_queue_tail_.fetch_add(1, std::memory_order_acq_rel);
            (*hold_queue_)[pos % hold_queue_->size()].store(*idx + 1, std::memory_order_release);
            Event& e = reservation.event();
            stamp(e, actor, EventKind::held, unit);
            e.resource = ResourceIdx{rec.resource};
            e.before = before;
            e.after = snapshot(slot, held);
            e.patient = patient;
            e.to = expires_at;  // recovery restores the hold with its expiry
            reservation.publish();
            return {ErrorCode::ok, {}, {}, HoldView{id, view(slot), patient, expires_at}};
        }
        if (auto bad = decide_on_stable_word(rec, w, check); !bad.ok()) {
            holds_->release(*idx);  // never published: free at once
            return Out::refuse(bad);
        }
    }
}

// ---- book --------------------------------------------------------------------------------

Outcome<BookingView> Engine::book(const Actor& actor, const BookRequest& request) {
    using Out = Outcome<BookingView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_request_patient(actor, request.patient); !bad.ok())
        return Out::refuse(bad);
    const int targets = int{request.slot.has_value()} + int{request.hold.has_value()} +
                        int{request.match.has_value()};
    if (targets != 1) {
        return Out::refuse(ErrorCode::invalid_request, "slot",
                           "name exactly one of a slot, a hold, or unit and type");
    }
    if (request.match) return book_first(actor, *request.match, request, reservation);
    if (request.slot) return book_slot(actor, *request.slot, request, std::nullopt, reservation);
    const HoldId h = *request.hold;
    const auto no_such =
        Out::refuse(ErrorCode::invalid_request, "hold", "no such hold for this patient");
    if ((h.value & booking_index_mask) == 0 || index_of(h) >= holds_->handed_out()) return no_such;
    const HoldRecord& rec = (*holds_)[index_of(h)];
    const std::uint32_t generation = rec.generation.load(std::memory_order_acquire);
    if (generation_of(h) > generation) return no_such;
    if (generation_of(h) < generation) {  // the hold ended and its record was reused
        return Out::refuse(ErrorCode::hold_expired, "hold", "the hold has expired");
    }
    const bool live = rec.live.load(std::memory_order_acquire);
    const SlotId slot{rec.slot.load(std::memory_order_acquire)};
    const PatientKey owner{rec.patient.load(std::memory_order_acquire)};
    if (rec.generation.load(std::memory_order_acquire) != generation) {
        return Out::refuse(ErrorCode::hold_expired, "hold", "the hold has expired");
    }
    if (!live || owner != request.patient) return no_such;
    return book_slot(actor, slot, request, h, reservation);
}

Outcome<BookingView> Engine::book_first(const Actor& actor, const SlotQuery& query,
                                        const BookRequest& request, Reservation& reservation) {
    using Out = Outcome<BookingView>;
    if (auto bad = check_query(query); !bad.ok()) return Out::refuse(bad);
    if (request.from_waitlist && !query.type) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "a booking from the waitlist names the appointment type");
    }
    if (!acts_in_unit(actor, query.unit)) {
        return Out::refuse(ErrorCode::unauthorized, "unit", "staff act only in their own unit");
    }
    // A named type (or, for the web, a unit) this channel may not book is a refusal, not an
    // empty search.
    if ((query.type && may_book_type(actor, query.unit, *query.type) != ErrorCode::ok) ||
        (actor.channel == Channel::web && !web_now(query.unit).booking_active)) {
        return Out::refuse(ErrorCode::appointment_not_allowed,
                           query.type ? "appointment_type" : "unit",
                           "this channel may not book this appointment type here");
    }
    SlotQuery q = query;
    q.limit = std::min(limits_.match_attempts_max, SlotQuery::limit_max);  // as check_query wants
    Out last = Out::refuse(ErrorCode::slot_not_available, "slot", "no free slot matches");
    // Candidates in start order; one lost to a parallel booking, or overlapping the patient's
    // own bookings, is skipped.
    for (std::size_t round = 0; round < limits_.match_attempts_max; ++round) {
        auto candidates = find(actor, q);
        if (!candidates.ok()) return Out::refuse(candidates);
        if (candidates.value.empty()) return last;
        for (const SlotView& c : candidates.value) {
            last = book_slot(actor, c.id, request, std::nullopt, reservation);
            if (last.ok() || (last.code != ErrorCode::slot_already_reserved &&
                              last.code != ErrorCode::patient_already_occupied)) {
                return last;
            }
        }
        q.from = Instant{candidates.value.back().start.value + 1};
    }
    return last;
}

// From one reading of the slot word: the permission codes through PATIENT_ALREADY_OCCUPIED.
Outcome<bool> Engine::check_take(const Actor& actor, const SlotRecord& rec, std::uint64_t w,
                                 const Target& target, const PatientRecord* patient,
                                 Instant now) const {
    using Out = Outcome<bool>;
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    const TypeIdx type{rec.type.load(std::memory_order_relaxed)};
    if (!target.replacing) {
        if (may_book_type(actor, unit, type) != ErrorCode::ok) {
            return Out::refuse(ErrorCode::appointment_not_allowed, "slot",
                               "this channel may not book this appointment type here");
        }
    } else if (actor.channel != Channel::staff &&
               (type != target.same_type || ResourceIdx{rec.resource} != target.same_resource)) {
        return Out::refuse(ErrorCode::rebook_not_allowed, "slot",
                           "rebooking keeps the resource and appointment type (R15, R16)");
    }
    const Instant start{rec.start_s};
    if (start.value <= now.value) {
        return Out::refuse(ErrorCode::slot_has_passed, "slot", "the slot has started");
    }
    const SlotState state = SlotWord::state(w);
    if (state == SlotState::blocked || covered(rec) ||
        (actor.channel != Channel::staff && !within_window(rec, now))) {
        return Out::refuse(ErrorCode::slot_not_available, "slot",
                           "blocked, removed, or outside the booking window");
    }
    if (target.via_hold) {
        const HoldRecord& h = (*holds_)[index_of(*target.via_hold)];
        if (h.expires_at.load(std::memory_order_acquire) <= now.value ||
            h.generation.load(std::memory_order_acquire) != generation_of(*target.via_hold) ||
            state != SlotState::held || SlotWord::owner(w) != index_of(*target.via_hold)) {
            return Out::refuse(ErrorCode::hold_expired, "hold", "the hold has expired");
        }
    } else if (state == SlotState::booked ||
               (state == SlotState::held && !open(w, now) &&
                (*holds_)[SlotWord::owner(w)].patient.load(std::memory_order_acquire) !=
                    target.patient.value)) {
        return Out::refuse(ErrorCode::slot_already_reserved, "slot", "the slot is taken");
    }
    if (patient == nullptr) return {};
    const Instant end{rec.start_s + rec.duration_min * seconds_per_minute};
    if (overlaps_booking(*patient, start, end, target.replacing)) {
        return Out::refuse(ErrorCode::patient_already_occupied, "patient",
                           "the patient has an overlapping booking");
    }
    // A rebook takes the place of its source in the list, when the list has it: a test clock
    // moved back can make a booking the list forgot as ended (forget_ended) current again.
    const auto listed = patient->bookings.begin() + patient->booking_count;
    if (patient->booking_count == patient_bookings_max &&
        !(target.replacing &&
          std::find(patient->bookings.begin(), listed, *target.replacing) != listed)) {
        return Out::refuse(ErrorCode::patient_already_occupied, "patient",
                           bookings_full_text.view());
    }
    return {};
}

// The CAS that makes a booking. A test build can swap in a deliberate bug for rebooks (compare,
// then store) to show that the linearizability check catches a rebook without its CAS.
static bool take_word(SlotRecord& rec, std::uint64_t& expected, std::uint64_t booked, bool rebook) {
    if (rebook && SM_MUTANT("engine.rebook_without_cas")) {
        const std::uint64_t seen = rec.word.load(word_order);
        if (seen != expected) {
            expected = seen;
            return false;
        }
        std::this_thread::yield();  // the window a missing CAS leaves open, made wide
        rec.word.store(booked, word_order);
        return true;
    }
    return rec.word.compare_exchange_strong(expected, booked, word_order);
}

// Under the patient's claim: check, then CAS the slot to a new booking record. A lost CAS
// means the slot changed under us: read it again and decide again. The record is taken only
// when the checks pass and given back if the attempt ends refused.
Outcome<Engine::Taken> Engine::take_slot(const Actor& actor, SlotId slot, const Target& target,
                                         const BookingFields& fields, PatientRecord& patient,
                                         Reservation& lane) {
    using Out = Outcome<Taken>;
    SM_ASSERT(index_.contains(slot));  // callers refuse an unknown slot with INVALID_REQUEST
    SlotRecord& rec = index_.record(slot);
    const Instant now = clock_.now();
    forget_ended(patient, now);
    std::optional<std::uint64_t> idx;
    for (;;) {
        std::uint64_t w = rec.word.load(word_order);
        const auto check = [&](std::uint64_t word) {
            return check_take(actor, rec, word, target, &patient, now);
        };
        if (auto bad = decide_on_stable_word(rec, w, check); !bad.ok()) {
            if (idx) put_record(lane, *idx);
            return Out::refuse(bad);
        }
        // check_take refused booked and blocked words: a booking takes a free or a held slot.
        SM_ASSERT(SlotWord::state(w) == SlotState::free || SlotWord::state(w) == SlotState::held);
        if (!idx && !(idx = take_record(lane))) {
            return Out::refuse(ErrorCode::overloaded, "", "booking table full");
        }
        SM_ASSERT(*idx < bookings_->capacity());
        BookingRecord& fresh = (*bookings_)[*idx];
        SM_ASSERT(!fresh.ready.load(std::memory_order_relaxed));  // a record taken is not in use
        std::uint32_t g = fresh.generation.load(std::memory_order_relaxed);
        if (g % 2 == 1) {
            // A record whose booking ended (this thread owns it now): its next generation
            // starts before anything of the new booking is written, so readers of the old id
            // see the reuse.
            fresh.generation.store(++g, std::memory_order_release);
        }
        // In use from here, so even; and one an id can carry (retire() never hands back a
        // record whose next generation would pass the limit).
        SM_ASSERT(g % 2 == 0 && g <= booking_generation_limit);
        fresh.fields = fields;
        fresh.fields.slot_id = slot;
        fresh.slot.store(slot.value, std::memory_order_relaxed);
        fresh.patient.store(fields.patient.value, std::memory_order_relaxed);
        const SlotSnapshot before = snapshot(slot, w);
        const std::uint64_t booked = SlotWord::next(w, SlotState::booked, *idx);
        if (take_word(rec, w, booked, target.replacing.has_value())) {
            // The word installed names this record, booked, one version on from the word the
            // checks passed (versions wrap; recovery orders a slot's changes by them).
            SM_ASSERT(SlotWord::state(booked) == SlotState::booked &&
                      SlotWord::owner(booked) == *idx);
            SM_ASSERT(SlotWord::version(booked) ==
                      ((SlotWord::version(w) + 1) & SlotWord::version_mask));
            fresh.ready.store(true, std::memory_order_release);
            const BookingId id = current_id(*idx);
            record_booking(patient, id, target.replacing);
            return {ErrorCode::ok, {}, {}, Taken{id, before, booked}};
        }
    }
}

// The details a new booking records (R17, R18).
BookingFields Engine::draft(const Actor& actor, const BookRequest& request, UnitIdx unit) const {
    BookingFields fields;
    fields.patient = request.patient;
    fields.channel = actor.channel;
    fields.actor = actor.id;
    fields.actor_name = actor.name;
    fields.changed_at = clock_.now();
    fields.from_waitlist = request.from_waitlist;
    // R18: the phone number and reason travel with a web booking when the unit asks for them.
    if (actor.channel == Channel::web && web_now(unit).patient_comment) {
        fields.phone = request.phone;
        fields.reason = request.reason;
    }
    return fields;
}

Outcome<BookingView> Engine::book_slot(const Actor& actor, SlotId slot, const BookRequest& request,
                                       std::optional<HoldId> via_hold, Reservation& reservation) {
    using Out = Outcome<BookingView>;
    if (!index_.contains(slot)) {
        return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    }
    const SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    const TypeIdx type{rec.type.load(std::memory_order_relaxed)};
    // R22: "from the waitlist" means the patient is on this unit's waitlist for this type (and
    // so already has a patient record). Checked again under the claim.
    const auto not_waiting = Out::refuse(ErrorCode::invalid_request, "from_waitlist",
                                         "the patient is not on the unit's waitlist for this type");
    if (request.from_waitlist && !find_waiting(unit, type, request.patient)) return not_waiting;
    if (!acts_in_unit(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot", "staff act only in their own unit");
    }
    const Target target{request.patient, via_hold, std::nullopt, {}, {}};
    // A patient seen before has a record already; for a new one, a first look without the
    // claim ends most refusals before a patient record is made.
    PatientRecord* patient = patients_->find(request.patient);
    if (patient == nullptr) {
        const Instant now = clock_.now();
        std::uint64_t w = rec.word.load(word_order);
        const auto check = [&](std::uint64_t word) {
            return check_take(actor, rec, word, target, nullptr, now);
        };
        if (auto bad = decide_on_stable_word(rec, w, check); !bad.ok()) return Out::refuse(bad);
        patient = patients_->get_or_create(request.patient);
    }
    if (patient == nullptr) return Out::refuse(ErrorCode::overloaded, "", "patient table full");
    BookingFields fields = draft(actor, request, unit);
    PatientClaim claim(*patient);
    std::optional<std::uint64_t> waiting;
    std::optional<WaitlistView> entry;  // a patient's entries change only under their claim
    if (request.from_waitlist) {
        if (!(waiting = find_waiting(unit, type, request.patient))) return not_waiting;
        entry = waiting_at(*waiting);
        fields.waitlisted_at = entry->added_at;  // R22: their place, should they come back
    }
    auto taken = take_slot(actor, slot, target, fields, *patient, reservation);
    if (!taken.ok()) return Out::refuse(taken);
    if (waiting) end_waiting(*waiting);
    Event& e = reservation.event();
    stamp(e, actor, EventKind::booked, unit);
    e.time = fields.changed_at;  // the booking's "changed at", which recovery restores
    e.resource = ResourceIdx{rec.resource};
    e.before = taken.value.before;
    e.after = snapshot(slot, taken.value.after);
    e.booking = taken.value.id;
    e.patient = request.patient;
    e.from_waitlist = request.from_waitlist;
    if (entry) {
        e.entry = entry->id;
        e.waitlisted_at = entry->added_at;
    }
    e.phone = fields.phone;
    e.reason = fields.reason;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, view(taken.value.id)};
}

}  // namespace slotmatch
