// Construction, checks shared by every operation, views, find, hold and book.
#include "engine_records.hpp"

#include <slotmatch/patient.hpp>

#include <algorithm>
#include <bit>

namespace slotmatch {
namespace {

std::size_t pow2_at_least(std::size_t n) { return std::bit_ceil(std::max<std::size_t>(n, 2)); }

constexpr std::size_t find_limit_max = 1000;
constexpr Instant end_of_time{std::int64_t{1} << 62};

}  // namespace

Engine::Engine(Catalog catalog, const Clock& clock, EngineLimits limits)
    : catalog_(std::move(catalog)),
      calendar_(catalog_.timezone),
      clock_(clock),
      limits_(limits),
      index_(catalog_, calendar_, limits.published_slots_max),
      patients_(pow2_at_least(limits.patients_max ? limits.patients_max
                                                  : std::max<std::size_t>(1024, index_.size()))) {
    const std::size_t per_slot = std::max<std::size_t>(4096, index_.size() * 2);
    bookings_ = std::make_unique<RecordTable<BookingRecord>>(
        limits_.bookings_max ? limits_.bookings_max : per_slot);
    holds_ = std::make_unique<RecordTable<HoldRecord>>(limits_.holds_max ? limits_.holds_max
                                                                         : per_slot);
    blocks_ = std::make_unique<RecordTable<BlockRecord>>(limits_.blocks_max);
    waitlist_ = std::make_unique<RecordTable<WaitlistRecord>>(limits_.waitlist_max);
    active_blocks_per_resource_ =
        std::make_unique<std::atomic<std::uint32_t>[]>(catalog_.resources.size());
    events_ = std::make_unique<EventRing>(pow2_at_least(limits_.events_max));
}

Engine::~Engine() = default;

// ---- checks ------------------------------------------------------------------------------

Outcome<bool> Engine::check_actor(const Actor& actor) const {
    if (actor.id.empty()) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "actor", "the actor is missing");
    }
    if ((actor.has_unit && actor.unit.value >= catalog_.units.size()) ||
        (actor.channel == Channel::staff && !actor.has_unit)) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "actor_unit",
                                     "staff name the unit they act from; it must exist");
    }
    return {};
}

Outcome<bool> Engine::check_type_in_unit(TypeIdx type, UnitIdx unit) const {
    if (type.value >= catalog_.types.size() || !catalog_.type_usable_in(type, unit)) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "type",
                                     "unknown appointment type here");
    }
    return {};
}

// Staff act only inside their own unit; the web gateway and proxies reach every unit.
bool Engine::acts_in_unit(const Actor& actor, UnitIdx unit) const {
    return actor.channel != Channel::staff || (actor.has_unit && actor.unit == unit);
}

// R2, R6, R7, R8, R25: may this channel book this type in this unit?
ErrorCode Engine::may_book_type(const Actor& actor, UnitIdx unit, TypeIdx type) const {
    const AppointmentType& t = catalog_.type(type);
    switch (actor.channel) {
        case Channel::staff: return ErrorCode::ok;
        case Channel::web:
            if (t.web_visible() && t.web_bookable && !t.is_proxy() &&
                catalog_.unit(unit).web.booking_active) {
                return ErrorCode::ok;
            }
            return ErrorCode::appointment_not_allowed;
        case Channel::proxy:
            return t.is_proxy() && t.web_visible() && t.web_bookable
                       ? ErrorCode::ok
                       : ErrorCode::appointment_not_allowed;
    }
    return ErrorCode::appointment_not_allowed;
}

// R10, R11: a slot of a type with window N is visible from local midnight N - 1 days before
// its date, so everything starting before local midnight of today + N is visible.
Instant Engine::window_end(TypeIdx type, Instant now) const {
    int n = catalog_.type(type).window_days.value_or(window_days_default);
    return calendar_.local_midnight(calendar_.local_day(now) + n);
}

bool Engine::within_window(TypeIdx type, Instant start, Instant now) const {
    return start.value < window_end(type, now).value;
}

bool Engine::valid_patient(PatientKey p) const {
    return p.value != 0 && p.value < patient_key_limit &&
           parse_patient_id(format_patient_id(p)).key.has_value();
}

// Web and proxy requests act for one named citizen; staff may name any patient.
Outcome<bool> Engine::check_request_patient(const Actor& actor, PatientKey patient) const {
    if (auto bad = check_actor(actor); !bad.ok()) return bad;
    if (!valid_patient(patient)) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "patient",
                                     "not a personnummer or samordningsnummer");
    }
    return {};
}

// A slot is free for a new hold or booking: free, or held by a hold that has expired.
bool Engine::slot_is_free(std::uint64_t word, Instant now) const {
    switch (SlotWord::state(word)) {
        case SlotState::free: return true;
        case SlotState::held: return (*holds_)[SlotWord::owner(word)].expires_at.value <= now.value;
        default: return false;
    }
}

// The word a slot gets when its booking or hold ends: removed if its type was removed from the
// schedule (R14), blocked if an active blocking event covers it (R14), else free (R13).
std::uint64_t Engine::rest_word(const SlotRecord& rec, std::uint64_t word) const {
    const Shard* shard = index_.shard(ResourceIdx{rec.resource},
                                      TypeIdx{rec.type.load(std::memory_order_relaxed)});
    if (shard != nullptr && shard->type_removed.load(std::memory_order_acquire)) {
        return SlotWord::next(word, SlotState::blocked, SlotWord::owner_removed);
    }
    if (active_blocks_per_resource_[rec.resource].load(std::memory_order_acquire) > 0) {
        const std::int64_t end = rec.start_s + rec.duration_min * seconds_per_minute;
        for (std::uint64_t i = 0; i < blocks_->handed_out(); ++i) {
            if (!blocks_->has(i)) continue;
            const BlockRecord& k = (*blocks_)[i];
            if (k.ready.load(std::memory_order_acquire) && k.active.load(std::memory_order_acquire) &&
                k.resource.value == rec.resource && k.from.value < end && rec.start_s < k.to.value) {
                return SlotWord::next(word, SlotState::blocked, i);
            }
        }
    }
    return SlotWord::next(word, SlotState::free, 0);
}

// ---- views -------------------------------------------------------------------------------

SlotView Engine::view(SlotId s) const {
    const SlotRecord& rec = index_.record(s);
    SlotView v;
    v.id = s;
    v.resource = ResourceIdx{rec.resource};
    v.unit = catalog_.resource(v.resource).unit;
    v.type = TypeIdx{rec.type.load(std::memory_order_relaxed)};
    v.start = Instant{rec.start_s};
    v.end = Instant{rec.start_s + rec.duration_min * seconds_per_minute};
    std::uint64_t w = rec.word.load(std::memory_order_acquire);
    v.state = SlotWord::state(w);
    if (v.state == SlotState::held && slot_is_free(w, clock_.now())) v.state = SlotState::free;
    return v;
}

std::optional<SlotView> Engine::slot(SlotId s) const {
    if (!index_.contains(s)) return std::nullopt;
    return view(s);
}

BookingView Engine::view(BookingId b) const {
    const BookingRecord& r = (*bookings_)[index_of(b)];
    BookingView v;
    v.id = b;
    v.slot = view(r.slot);
    v.patient = r.patient;
    v.channel = r.channel;
    v.actor = r.actor;
    v.actor_name = r.actor_name;
    v.changed_at = r.changed_at;
    v.from_waitlist = r.from_waitlist;
    v.phone = r.phone;
    v.reason = r.reason;
    v.active = active_booking(b).has_value();
    return v;
}

// The booking if it exists and is still active (its slot's word names it).
std::optional<BookingId> Engine::active_booking(BookingId b) const {
    const BookingRecord& r = (*bookings_)[index_of(b)];
    std::uint64_t w = index_.record(r.slot).word.load(std::memory_order_acquire);
    if (SlotWord::state(w) == SlotState::booked && SlotWord::owner(w) == index_of(b)) return b;
    return std::nullopt;
}

std::optional<BookingView> Engine::booking(BookingId b) const {
    if (b.value == 0 || index_of(b) >= bookings_->handed_out() || !bookings_->has(index_of(b)) ||
        !(*bookings_)[index_of(b)].ready.load(std::memory_order_acquire)) {
        return std::nullopt;
    }
    return view(b);
}

SlotSnapshot Engine::snapshot(SlotId s, std::uint64_t word) const {
    const SlotRecord& rec = index_.record(s);
    SlotSnapshot snap;
    snap.slot = s;
    snap.state = SlotWord::state(word);
    snap.version = SlotWord::version(word);
    snap.type = TypeIdx{rec.type.load(std::memory_order_relaxed)};
    snap.start = Instant{rec.start_s};
    if (snap.state == SlotState::booked) {
        snap.booking = BookingId{SlotWord::owner(word) + 1};
        snap.patient = (*bookings_)[SlotWord::owner(word)].patient;
    } else if (snap.state == SlotState::held) {
        snap.hold = HoldId{SlotWord::owner(word) + 1};
        snap.patient = (*holds_)[SlotWord::owner(word)].patient;
    }
    return snap;
}

Event Engine::event_for(const Actor& actor, EventKind kind, UnitIdx unit) const {
    Event e;
    e.time = clock_.now();
    e.kind = kind;
    e.channel = actor.channel;
    e.actor = actor.id;
    e.actor_name = actor.name;
    e.unit = unit;
    return e;
}

std::string changed_by(const BookingView& b) {
    switch (b.channel) {
        case Channel::web: return std::string(web_system_identity);
        case Channel::staff:
            return std::string(b.actor_name.view()) + " (" + std::string(b.actor.view()) + ")";
        case Channel::proxy:
            return b.actor_name.empty() ? std::string(b.actor.view())
                                        : std::string(b.actor_name.view());
    }
    return {};
}

// ---- find --------------------------------------------------------------------------------

std::optional<SlotId> Engine::first_free(const Actor& actor, const Shard& shard, Instant from,
                                         Instant to, std::optional<SlotId> skip) const {
    if (actor.channel != Channel::staff) to = std::min(to, window_end(shard.type, clock_.now()));
    std::optional<SlotId> found;
    const Instant now = clock_.now();
    index_.for_each_between(shard, from, to, [&](SlotId s) {
        const SlotRecord& rec = index_.record(s);
        if (rec.type.load(std::memory_order_relaxed) != shard.type.value || s == skip) return true;
        if (!slot_is_free(rec.word.load(std::memory_order_acquire), now)) return true;
        found = s;
        return false;
    });
    return found;
}

Outcome<std::vector<SlotView>> Engine::find(const Actor& actor, const SlotQuery& q) const {
    using Out = Outcome<std::vector<SlotView>>;
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (q.unit.value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    if (q.type) {
        if (auto bad = check_type_in_unit(*q.type, q.unit); !bad.ok()) return Out::refuse(bad);
    }
    if (q.resource && (q.resource->value >= catalog_.resources.size() ||
                       catalog_.resource(*q.resource).unit != q.unit)) {
        return Out::refuse(ErrorCode::invalid_request, "resource", "unknown resource here");
    }
    if (q.limit == 0 || q.limit > find_limit_max) {
        return Out::refuse(ErrorCode::invalid_request, "limit", "must be 1..1000");
    }
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
            Instant shard_to = actor.channel == Channel::staff
                                   ? to
                                   : std::min(to, window_end(shard->type, now));
            std::size_t taken = 0;
            index_.for_each_between(*shard, from, shard_to, [&](SlotId s) {
                const SlotRecord& rec = index_.record(s);
                if (rec.type.load(std::memory_order_relaxed) != shard->type.value) return true;
                if (!slot_is_free(rec.word.load(std::memory_order_acquire), now)) return true;
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

Outcome<HoldView> Engine::hold(const Actor& actor, SlotId slot, PatientKey patient) {
    using Out = Outcome<HoldView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_request_patient(actor, patient); !bad.ok()) return Out::refuse(bad);
    if (!index_.contains(slot)) return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    if (!acts_in_unit(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot", "staff act only in their own unit");
    }
    auto idx = holds_->allocate();
    if (!idx) return Out::refuse(ErrorCode::overloaded, "", "hold table full");
    HoldRecord& h = (*holds_)[*idx];
    const Instant now = clock_.now();
    h.slot = slot;
    h.patient = patient;
    h.expires_at = Instant{now.value + catalog_.hold_ttl_s};
    // Every refusal below leaves the record refused, so the expiry sweep can step over it.
    struct RefuseUnlessLive {
        HoldRecord& h;
        ~RefuseUnlessLive() {
            if (h.status.load(std::memory_order_relaxed) != HoldStatus::live) {
                h.status.store(HoldStatus::refused, std::memory_order_release);
            }
        }
    } refuse_unless_live{h};
    for (;;) {
        std::uint64_t w = rec.word.load(std::memory_order_acquire);
        const TypeIdx type{rec.type.load(std::memory_order_relaxed)};
        if (may_book_type(actor, unit, type) != ErrorCode::ok) {
            return Out::refuse(ErrorCode::appointment_not_allowed, "slot",
                               "this channel may not book this appointment type here");
        }
        if (rec.start_s <= now.value) {
            return Out::refuse(ErrorCode::slot_has_passed, "slot", "the slot has started");
        }
        if (SlotWord::state(w) == SlotState::blocked ||
            (actor.channel != Channel::staff && !within_window(type, Instant{rec.start_s}, now))) {
            return Out::refuse(ErrorCode::slot_not_available, "slot", "blocked or not yet visible");
        }
        if (!slot_is_free(w, now)) {
            return Out::refuse(ErrorCode::slot_already_reserved, "slot", "the slot is taken");
        }
        std::uint64_t held = SlotWord::next(w, SlotState::held, *idx);
        if (rec.word.compare_exchange_strong(w, held, std::memory_order_acq_rel)) {
            h.status.store(HoldStatus::live, std::memory_order_release);
            Event e = event_for(actor, EventKind::held, unit);
            e.resource = ResourceIdx{rec.resource};
            e.before = snapshot(slot, w);
            e.after = snapshot(slot, held);
            e.patient = patient;
            reservation.publish(e);
            return {ErrorCode::ok, {}, {}, HoldView{HoldId{*idx + 1}, view(slot), patient, h.expires_at}};
        }
    }
}

// ---- book --------------------------------------------------------------------------------

Outcome<BookingView> Engine::book(const Actor& actor, const BookRequest& request) {
    using Out = Outcome<BookingView>;
    // The cancel of a waitlist entry needs no event; one event per booking.
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_request_patient(actor, request.patient); !bad.ok()) return Out::refuse(bad);
    const int targets = int{request.slot.has_value()} + int{request.hold.has_value()} +
                        int{request.match.has_value()};
    if (targets != 1) {
        return Out::refuse(ErrorCode::invalid_request, "slot",
                           "name exactly one of a slot, a hold, or unit and type");
    }
    if (request.match) return book_first(actor, *request.match, request, reservation);
    if (request.slot) return book_slot(actor, *request.slot, request, std::nullopt, reservation);
    const HoldId h = *request.hold;
    if (h.value == 0 || index_of(h) >= holds_->handed_out() || !holds_->has(index_of(h)) ||
        (*holds_)[index_of(h)].status.load(std::memory_order_acquire) != HoldStatus::live ||
        (*holds_)[index_of(h)].patient != request.patient) {
        return Out::refuse(ErrorCode::invalid_request, "hold", "no such hold for this patient");
    }
    return book_slot(actor, (*holds_)[index_of(h)].slot, request, h, reservation);
}

Outcome<BookingView> Engine::book_first(const Actor& actor, const SlotQuery& query,
                                        const BookRequest& request, Reservation& reservation) {
    // A named type (or, for the web, a unit) this channel may not book is a refusal, not an
    // empty search.
    if (query.unit.value < catalog_.units.size() && query.type &&
        query.type->value < catalog_.types.size() &&
        may_book_type(actor, query.unit, *query.type) != ErrorCode::ok) {
        return Outcome<BookingView>::refuse(ErrorCode::appointment_not_allowed, "type",
                                            "this channel may not book this appointment type here");
    }
    if (query.unit.value < catalog_.units.size() && actor.channel == Channel::web &&
        !catalog_.unit(query.unit).web.booking_active) {
        return Outcome<BookingView>::refuse(ErrorCode::appointment_not_allowed, "unit",
                                            "the unit does not take web bookings");
    }
    SlotQuery q = query;
    q.limit = std::min(limits_.match_attempts_max, find_limit_max);
    Outcome<BookingView> last = Outcome<BookingView>::refuse(
        ErrorCode::slot_not_available, "slot", "no free slot matches");
    // Candidates in start order; a candidate lost to a parallel booking is skipped.
    for (std::size_t round = 0; round < limits_.match_attempts_max; ++round) {
        auto candidates = find(actor, q);
        if (!candidates.ok()) {
            return Outcome<BookingView>::refuse(candidates);
        }
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

bool Engine::overlaps_booking(const PatientRecord& p, Instant start, Instant end,
                              std::optional<BookingId> except) const {
    for (std::uint32_t i = 0; i < p.booking_count; ++i) {
        if (except && p.bookings[i] == *except) continue;
        const SlotRecord& other = index_.record((*bookings_)[index_of(p.bookings[i])].slot);
        const std::int64_t other_end = other.start_s + other.duration_min * seconds_per_minute;
        if (other.start_s < end.value && start.value < other_end) return true;
    }
    return false;
}

// Under the patient's claim: the checks from the permission codes to PATIENT_ALREADY_OCCUPIED
// against one consistent reading of the slot word, then the CAS that makes the booking. A lost
// CAS means the slot changed under us: read it again and decide again.
Outcome<Engine::Taken> Engine::take_slot(const Actor& actor, SlotId slot, const Target& target,
                                         PatientRecord& patient, std::uint64_t fresh_idx) {
    using Out = Outcome<Taken>;
    SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    const Instant now = clock_.now();
    const Instant start{rec.start_s};
    const Instant end{rec.start_s + rec.duration_min * seconds_per_minute};
    for (;;) {
        std::uint64_t w = rec.word.load(std::memory_order_acquire);
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
        if (start.value <= now.value) {
            return Out::refuse(ErrorCode::slot_has_passed, "slot", "the slot has started");
        }
        const SlotState state = SlotWord::state(w);
        if (state == SlotState::blocked ||
            (actor.channel != Channel::staff && !within_window(type, start, now))) {
            return Out::refuse(ErrorCode::slot_not_available, "slot",
                               "blocked, removed, or outside the booking window");
        }
        const bool held_alive = state == SlotState::held && !slot_is_free(w, now);
        if (target.via_hold) {
            const HoldRecord& h = (*holds_)[index_of(*target.via_hold)];
            if (h.expires_at.value <= now.value || state != SlotState::held ||
                SlotWord::owner(w) != index_of(*target.via_hold)) {
                return Out::refuse(ErrorCode::hold_expired, "hold", "the hold has expired");
            }
        } else if (state == SlotState::booked ||
                   (held_alive && (*holds_)[SlotWord::owner(w)].patient != target.patient)) {
            return Out::refuse(ErrorCode::slot_already_reserved, "slot", "the slot is taken");
        }
        if (overlaps_booking(patient, start, end, target.replacing)) {
            return Out::refuse(ErrorCode::patient_already_occupied, "patient",
                               "the patient has an overlapping booking");
        }
        if (!target.replacing && patient.booking_count == patient_bookings_max) {
            return Out::refuse(ErrorCode::patient_already_occupied, "patient",
                               "the patient has the most active bookings allowed");
        }
        (*bookings_)[fresh_idx].slot = slot;
        const std::uint64_t booked = SlotWord::next(w, SlotState::booked, fresh_idx);
        if (rec.word.compare_exchange_strong(w, booked, std::memory_order_acq_rel)) {
            (*bookings_)[fresh_idx].ready.store(true, std::memory_order_release);
            return {ErrorCode::ok, {}, {}, Taken{BookingId{fresh_idx + 1}, w, booked}};
        }
    }
}

Outcome<BookingView> Engine::book_slot(const Actor& actor, SlotId slot, const BookRequest& request,
                                       std::optional<HoldId> via_hold, Reservation& reservation) {
    using Out = Outcome<BookingView>;
    if (!index_.contains(slot)) return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    const SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    if (!acts_in_unit(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot", "staff act only in their own unit");
    }
    PatientRecord* patient = patients_.get_or_create(request.patient);
    auto idx = bookings_->allocate();
    if (patient == nullptr || !idx) {
        return Out::refuse(ErrorCode::overloaded, "", "patient or booking table full");
    }
    BookingRecord& fresh = (*bookings_)[*idx];
    fresh.patient = request.patient;
    fresh.channel = actor.channel;
    fresh.actor = actor.id;
    fresh.actor_name = actor.name;
    fresh.changed_at = clock_.now();
    fresh.from_waitlist = request.from_waitlist;
    // R18: the phone number and reason travel with a web booking when the unit asks for them.
    if (actor.channel == Channel::web && catalog_.unit(unit).web.patient_comment) {
        fresh.phone = request.phone;
        fresh.reason = request.reason;
    }
    PatientClaim claim(*patient);
    Target target{request.patient, via_hold, std::nullopt, {}, {}};
    auto taken = take_slot(actor, slot, target, *patient, *idx);
    if (!taken.ok()) return Out::refuse(taken);
    patient->bookings[patient->booking_count++] = taken.value.id;
    if (request.from_waitlist) {
        const TypeIdx type{rec.type.load(std::memory_order_relaxed)};
        if (auto entry = find_waiting(unit, type, request.patient)) {
            (*waitlist_)[*entry].state.store(WaitlistState::removed, std::memory_order_release);
        }
    }
    Event e = event_for(actor, EventKind::booked, unit);
    e.resource = ResourceIdx{rec.resource};
    e.before = snapshot(slot, taken.value.before);
    e.after = snapshot(slot, taken.value.after);
    e.booking = taken.value.id;
    e.patient = request.patient;
    e.from_waitlist = request.from_waitlist;
    e.phone = fresh.phone;
    e.reason = fresh.reason;
    reservation.publish(e);
    return {ErrorCode::ok, {}, {}, view(taken.value.id)};
}

}  // namespace slotmatch
