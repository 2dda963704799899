// Construction, the checks every operation shares, slot state helpers, and views.
#include <algorithm>
#include <bit>
#include <slotmatch/patient.hpp>
#include <slotmatch/static_text.hpp>
#include <thread>

#include "engine_records.hpp"

namespace slotmatch {
namespace {

std::size_t pow2_at_least(std::size_t n) {
    return std::bit_ceil(std::max<std::size_t>(n, 2));
}

constexpr StaticText limit_range_text = static_text("must be 1..", SlotQuery::limit_max);
constexpr unsigned lane_wait_max = 1000;  // yields while waiting for another lane's records

// The slots the region file lays out, at most (the tables are sized from it before anything is
// laid out: restore() may rebuild another number from a store).
std::size_t seed_slots(const Catalog& catalog) {
    return estimate_slots(catalog, catalog.schedules);
}

}  // namespace

std::size_t Engine::booking_record_bytes() {
    return RecordTable<BookingRecord>::bytes_per_record;
}

Engine::Engine(Catalog catalog, const Clock& clock, EngineLimits limits, Seed seed)
    : catalog_(std::move(catalog)),
      calendar_(catalog_.timezone),
      clock_(clock),
      limits_(limits),
      index_(catalog_.resources.size(), 2 * seed_slots(catalog_) + limits.published_slots_max) {
    point_at_types();
    webs_now_ = std::make_unique<std::atomic<const WebSettings*>[]>(catalog_.units.size());
    for (std::size_t u = 0; u < catalog_.units.size(); ++u) {
        webs_now_[u].store(&catalog_.units[u].web, std::memory_order_relaxed);
    }
    for (const Unit& u : catalog_.units) seed_webs_.push_back(u.web);
    // Fields that different threads write start lines of their own (see cache_line.hpp).
    // Engine is not standard-layout (no offsetof): its alignment shows that hold_queue_tail_,
    // its one over-aligned member, starts a line.
    static_assert(alignof(Engine) == cache_line_bytes);
    static_assert(alignof(LaneRecords) == cache_line_bytes &&
                  sizeof(LaneRecords) % cache_line_bytes == 0);  // one lane's, then the next's
    size_tables(0);
    // Room for a block per resource and week of a year, and for a quarter of the slots' patients
    // waiting at once; never less than the fixed tables of earlier versions.
    blocks_ = std::make_unique<RecordTable<BlockRecord>>(
        limits_.blocks_max
            ? limits_.blocks_max
            : std::max<std::size_t>(std::size_t{1} << 14, catalog_.resources.size() * 64));
    waitlist_ = std::make_unique<RecordTable<WaitlistRecord>>(
        limits_.waitlist_max
            ? limits_.waitlist_max
            : std::max<std::size_t>(std::size_t{1} << 16, seed_slots(catalog_) / 4));
    active_blocks_per_resource_ =
        std::make_unique<std::atomic<std::uint32_t>[]>(catalog_.resources.size());
    events_ = std::make_unique<EventRings>(pow2_at_least(limits_.events_max), limits_.event_lanes);
    lane_records_ = std::make_unique<LaneRecords[]>(limits_.event_lanes);
    // The booking window needs today's local day and future midnights on every booking: cache
    // them for the schedules' days, with a year either side (published slots, window N).
    if (!catalog_.schedules.empty()) {
        LocalDay first = catalog_.schedules.front().valid_from_day;
        LocalDay last = catalog_.schedules.front().valid_to_day;
        for (const Schedule& s : catalog_.schedules) {
            first = std::min(first, s.valid_from_day);
            last = std::max(last, s.valid_to_day);
        }
        calendar_.cache_days(first - 400, last + 400);
    }
    if (seed == Seed::publish) {
        std::lock_guard admin(admin_mutex_);
        lay_out_seed();
    }
}

void Engine::point_at_types() {
    types_room_ = catalog_.types.size() + limits_.types_added_max;
    types_now_ = std::make_unique<std::atomic<const AppointmentType*>[]>(types_room_);
    for (std::size_t t = 0; t < catalog_.types.size(); ++t) {
        types_now_[t].store(&catalog_.types[t], std::memory_order_relaxed);
    }
    type_count_.store(static_cast<std::uint32_t>(catalog_.types.size()), std::memory_order_release);
    catalog_view_.store(&catalog_, std::memory_order_release);
    seed_types_ = catalog_.types;
}

Engine::~Engine() = default;

// ---- request checks ----------------------------------------------------------------------

Outcome<bool> Engine::check_actor(const Actor& actor) const {
    if (actor.id.empty()) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "actor", "the actor is missing");
    }
    if ((actor.has_unit && actor.unit.value >= catalog_.units.size()) ||
        (actor.channel == Channel::staff && !actor.has_unit)) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "actor_unit",
                                     "staff name the unit they act from; it must exist");
    }
    if (actor.channel == Channel::staff && actor.name.empty()) {
        // R17: what staff change shows the staff user's name and staff id.
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "actor_name",
                                     "staff give their name (R17: changed by shows name and id)");
    }
    return {};
}

Outcome<bool> Engine::check_type_in_unit(TypeIdx type, UnitIdx unit) const {
    if (type.value >= type_count() || !type_now(type).usable_in(unit)) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "appointment_type",
                                     "unknown appointment type here");
    }
    if (type_now(type).removed) {
        return Outcome<bool>::refuse(ErrorCode::invalid_request, "appointment_type",
                                     "the appointment type was removed from the region");
    }
    return {};
}

// The fields of a search (find, and book or rebook of the earliest match).
Outcome<bool> Engine::check_query(const SlotQuery& q) const {
    using Out = Outcome<bool>;
    if (q.unit.value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    if (q.type) {
        if (auto bad = check_type_in_unit(*q.type, q.unit); !bad.ok()) return bad;
    }
    if (q.resource && (q.resource->value >= catalog_.resources.size() ||
                       catalog_.resource(*q.resource).unit != q.unit)) {
        return Out::refuse(ErrorCode::invalid_request, "resource", "unknown resource here");
    }
    if (q.limit == 0 || q.limit > SlotQuery::limit_max) {
        return Out::refuse(ErrorCode::invalid_request, "limit", limit_range_text.view());
    }
    if (q.from && q.to && q.to->value <= q.from->value) {
        return Out::refuse(ErrorCode::invalid_request, "to", "must be after from");
    }
    return {};
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

// Staff act only inside their own unit; the web gateway and proxies reach every unit.
bool Engine::acts_in_unit(const Actor& actor, UnitIdx unit) const {
    return actor.channel != Channel::staff || (actor.has_unit && actor.unit == unit);
}

// R2, R6, R7, R8, R25: may this channel book this type in this unit?
ErrorCode Engine::may_book_type(const Actor& actor, UnitIdx unit, TypeIdx type) const {
    const AppointmentType& t = type_now(type);  // one reading: R9, no mixed state
    if (t.removed) return ErrorCode::appointment_not_allowed;
    switch (actor.channel) {
        case Channel::staff:
            return ErrorCode::ok;
        case Channel::web:
            if (t.web_visible() && t.web_bookable && !t.is_proxy() &&
                web_now(unit).booking_active) {
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

// R10, R11: a slot with day count N is visible from local midnight N - 1 days before its
// date, so everything starting before local midnight of today + N is visible. N is the count
// its schedule was given, else its type's (none: 60 days ahead).
Instant Engine::window_end(int days, Instant now) const {
    return calendar_.local_midnight(calendar_.local_day(now) + days);
}

int Engine::window_days(TypeIdx type) const {
    return type_now(type).window_days.value_or(window_days_default);
}

bool Engine::within_window(const SlotRecord& rec, Instant now) const {
    const int own = rec.window_days.load(std::memory_order_relaxed);
    const int n = own > 0 ? own : window_days(TypeIdx{rec.type.load(std::memory_order_relaxed)});
    return rec.start_s < window_end(n, now).value;
}

// A shard's slots that a citizen may see start before this: its type's day count, or the
// longest any schedule was given (within_window then decides slot by slot).
Instant Engine::shard_window_end(TypeIdx type, Instant now) const {
    return window_end(
        std::max(window_days(type), longest_schedule_window_.load(std::memory_order_relaxed)), now);
}

bool Engine::valid_patient(PatientKey p) const {
    return valid_patient_key(p);
}

// ---- slot state --------------------------------------------------------------------------

// Free, or held by a hold that has expired: a new hold or booking may take it (if nothing
// covers it, see covered()).
bool Engine::open(std::uint64_t word, Instant now) const {
    switch (SlotWord::state(word)) {
        case SlotState::free:
            return true;
        case SlotState::held:
            return (*holds_)[SlotWord::owner(word)].expires_at.load(std::memory_order_acquire) <=
                   now.value;
        default:
            return false;
    }
}

std::optional<Engine::BlockSpan> Engine::active_block(std::uint64_t index) const {
    const BlockRecord& k = (*blocks_)[index];
    for (;;) {
        const std::uint32_t before = k.generation.load(std::memory_order_acquire);
        if (before % 2 != 0) continue;  // its writer is between two stores: a moment
        if (!k.active.load(word_order)) return std::nullopt;
        const BlockSpan span{block_id(index, before),
                             ResourceIdx{k.resource.load(std::memory_order_acquire)},
                             Instant{k.from.load(std::memory_order_acquire)},
                             Instant{k.to.load(std::memory_order_acquire)}};
        if (k.generation.load(std::memory_order_relaxed) == before) return span;
    }
}

void Engine::size_tables(std::size_t stored_slots) {
    const std::size_t slots = stored_slots + seed_slots(catalog_);
    // A booking or hold per slot at once, twice over (ended records wait for reuse), and a
    // patient per slot; the tables are reserved and cost memory only as used.
    const std::size_t per_slot = std::max<std::size_t>(4096, slots * 2);
    const std::size_t patients = pow2_at_least(
        limits_.patients_max ? limits_.patients_max : std::max<std::size_t>(1024, slots));
    if (!patients_ || patients_->capacity() < patients) {
        patients_ = std::make_unique<PatientTable>(patients);
    }
    const std::size_t bookings = limits_.bookings_max ? limits_.bookings_max : per_slot;
    if (!bookings_ || bookings_->capacity() < bookings) {
        SM_ASSERT(!bookings_ || bookings_->handed_out() == 0);
        bookings_ = std::make_unique<RecordTable<BookingRecord>>(bookings);
    }
    const std::size_t holds = limits_.holds_max ? limits_.holds_max : per_slot;
    if (!holds_ || holds_->capacity() < holds) {
        SM_ASSERT(!holds_ || holds_->handed_out() == 0);
        holds_ = std::make_unique<RecordTable<HoldRecord>>(holds);
        hold_queue_ = std::make_unique<ZeroedArray<std::atomic<std::uint64_t>>>(holds);
    }
}

EngineRoom Engine::room() const {
    return {patients_->capacity(), bookings_->capacity(), holds_->capacity(), blocks_->capacity(),
            waitlist_->capacity()};
}

// An active blocking event or a removal of the slot's type lies on the slot (R14). The per-
// resource block count is zero almost always, so the booking path pays two loads.
bool Engine::covered(const SlotRecord& rec) const {
    if (rec.removed.load(word_order)) return true;
    if (active_blocks_per_resource_[rec.resource].load(word_order) == 0) return false;
    return SlotWord::state(rest_word(rec, 0)) == SlotState::blocked;
}

// The word a slot gets when nothing holds it: removed if its type was removed from the
// schedule (R14), blocked if an active blocking event covers it (R14; the current block is
// kept if it still covers), else free (R13).
std::uint64_t Engine::rest_word(const SlotRecord& rec, std::uint64_t word) const {
    if (rec.removed.load(word_order)) {
        return SlotWord::next(word, SlotState::blocked, SlotWord::owner_removed);
    }
    if (active_blocks_per_resource_[rec.resource].load(word_order) == 0) {
        return SlotWord::next(word, SlotState::free, 0);
    }
    const std::int64_t end = rec.start_s + rec.duration_min * seconds_per_minute;
    auto covers = [&](std::uint64_t i) {
        const auto k = active_block(i);
        return k && k->resource.value == rec.resource && k->from.value < end &&
               rec.start_s < k->to.value;
    };
    if (SlotWord::state(word) == SlotState::blocked &&
        SlotWord::owner(word) != SlotWord::owner_removed && covers(SlotWord::owner(word))) {
        return SlotWord::next(word, SlotState::blocked, SlotWord::owner(word));
    }
    for (std::uint64_t i = 0; i < blocks_->handed_out(); ++i) {
        if (covers(i)) return SlotWord::next(word, SlotState::blocked, i);
    }
    return SlotWord::next(word, SlotState::free, 0);
}

// Brings a slot that nothing holds (free or blocked) to the rest its blocks and schedule say
// now. A block, unblock or type removal that registered between a reading of the rest and a
// CAS is seen here, because each side writes before it reads the other (see word_order).
// Returns the last word this call installed (or `word`), never one another operation wrote.
std::uint64_t Engine::settle(SlotRecord& rec, std::uint64_t word) {
    std::uint64_t mine = word;
    for (;;) {
        const SlotState state = SlotWord::state(word);
        if (state != SlotState::free && state != SlotState::blocked) return mine;  // taken
        const std::uint64_t rest = rest_word(rec, word);
        if (SlotWord::state(rest) == state && SlotWord::owner(rest) == SlotWord::owner(word)) {
            return word == mine ? word : mine;
        }
        if (rec.word.compare_exchange_strong(word, rest, word_order)) mine = word = rest;
    }
}

bool Engine::overlaps_booking(const PatientRecord& p, Instant start, Instant end,
                              std::optional<BookingId> except) const {
    for (std::uint32_t i = 0; i < p.booking_count; ++i) {
        if (except && p.bookings[i] == *except) continue;
        const SlotRecord& other =
            index_.record((*bookings_)[index_of(p.bookings[i])].fields.slot_id);
        const std::int64_t other_end = other.start_s + other.duration_min * seconds_per_minute;
        if (other.start_s < end.value && start.value < other_end) return true;
    }
    return false;
}

// A visit that has ended no longer counts against the patient's bookings; the caller holds
// the patient's claim.
void Engine::forget_ended(PatientRecord& p, Instant now) const {
    for (std::uint32_t i = 0; i < p.booking_count;) {
        const SlotRecord& s = index_.record((*bookings_)[index_of(p.bookings[i])].fields.slot_id);
        if (s.start_s + s.duration_min * seconds_per_minute <= now.value) {
            p.bookings[i] = p.bookings[--p.booking_count];
        } else {
            ++i;
        }
    }
}

// A new booking joins the patient's list, in the place of the one it replaces (a rebook), so a
// rebook never needs room the list does not have. The caller holds the patient's claim.
void Engine::record_booking(PatientRecord& p, BookingId b,
                            std::optional<BookingId> replacing) const {
    if (replacing) {
        auto* last = p.bookings.begin() + p.booking_count;
        auto* at = std::find(p.bookings.begin(), last, *replacing);
        if (at != last) {
            *at = b;
            return;
        }
    }
    SM_ASSERT(p.booking_count < patient_bookings_max);  // check_take refused a full list
    p.bookings[p.booking_count++] = b;
}

// The booking if it exists and is still active (its slot's word names it, in its generation).
std::optional<BookingId> Engine::active_booking(BookingId b) const {
    const BookingRecord& r = (*bookings_)[index_of(b)];
    if (r.generation.load(std::memory_order_acquire) != generation_of(b)) return std::nullopt;
    const std::uint64_t w =
        index_.record(SlotId{r.slot.load(std::memory_order_relaxed)}).word.load(word_order);
    if (SlotWord::state(w) == SlotState::booked && SlotWord::owner(w) == index_of(b) &&
        r.generation.load(std::memory_order_acquire) == generation_of(b)) {
        return b;
    }
    return std::nullopt;
}

BookingId Engine::current_id(std::uint64_t index) const {
    return booking_id(index, (*bookings_)[index].generation.load(std::memory_order_acquire));
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
    std::uint64_t w = rec.word.load(word_order);
    v.state = SlotWord::state(w);
    if (v.state == SlotState::held && open(w, clock_.now())) {
        v.state = SlotWord::state(rest_word(rec, w));  // the hold has expired
    }
    return v;
}

std::optional<SlotView> Engine::slot(SlotId s) const {
    if (!index_.contains(s)) return std::nullopt;
    return view(s);
}

BookingView Engine::view(BookingId b) const {
    const BookingRecord& r = (*bookings_)[index_of(b)];
    BookingView v;
    static_cast<BookingFields&>(v) = r.fields;
    v.id = b;
    v.slot = view(r.fields.slot_id);
    v.active = active_booking(b).has_value();
    return v;
}

std::optional<std::uint64_t> Engine::take_record(Reservation& lane) {
    LaneRecords& mine = lane_records_[lane.lane()];
    if (mine.count > 0) return mine.index[--mine.count];
    if (auto i = bookings_->allocate()) return i;
    // The table has no fresh or shared record left: take one kept by another lane, claiming
    // that lane for the moment so its cache is ours alone. A lane in use is waited for, a
    // bounded while (its owner may be waiting for ours: then both give up, OVERLOADED).
    for (std::size_t l = 0; l < events_->lane_count(); ++l) {
        if (l == lane.lane()) continue;
        EventRings::Lane* other = nullptr;
        for (unsigned wait = 0; other == nullptr && wait < lane_wait_max; ++wait) {
            if ((other = events_->try_claim(l)) == nullptr) std::this_thread::yield();
        }
        if (other == nullptr) continue;
        LaneRecords& theirs = lane_records_[l];
        std::optional<std::uint64_t> taken;
        if (theirs.count > 0) taken = theirs.index[--theirs.count];
        events_->release(other);
        if (taken) return taken;
    }
    return std::nullopt;
}

void Engine::put_record(Reservation& lane, std::uint64_t index) {
    // Only a record no one can reach as a booking comes back: refused before its CAS, or retired.
    SM_ASSERT(index < bookings_->capacity());
    SM_ASSERT(!(*bookings_)[index].ready.load(std::memory_order_relaxed));
    LaneRecords& mine = lane_records_[lane.lane()];
    // Near the end of the table's fresh records, freed ones go where every lane finds them.
    const bool plenty =
        bookings_->handed_out() + events_->lane_count() * LaneRecords::max < bookings_->capacity();
    if (plenty && mine.count < LaneRecords::max) {
        mine.index[mine.count++] = index;
    } else {
        bookings_->release(index);
    }
}

// What an id names, from the record's generation (see BookingRecord) and atomic identity. The
// identity is read between two readings of the generation, so a reuse in between is seen.
Engine::BookingRef Engine::identify(BookingId b) const {
    using Kind = BookingRef::Kind;
    BookingRef ref;
    ref.id = b;
    if ((b.value & booking_index_mask) == 0 || index_of(b) >= bookings_->handed_out()) return ref;
    const BookingRecord& r = (*bookings_)[index_of(b)];
    const std::uint32_t made_in = generation_of(b);
    const std::uint32_t before = r.generation.load(std::memory_order_acquire);
    if (before < made_in) return ref;
    if (before > made_in + 1) {
        ref.kind = Kind::ended_forgotten;
        return ref;
    }
    const bool ready = r.ready.load(std::memory_order_acquire);
    // Acquire loads: the second reading of the generation cannot move before them.
    ref.slot = SlotId{r.slot.load(std::memory_order_acquire)};
    ref.patient = PatientKey{r.patient.load(std::memory_order_acquire)};
    const std::uint32_t after = r.generation.load(std::memory_order_acquire);
    if (after == made_in) {
        ref.kind = ready ? Kind::live : Kind::unknown;
    } else if (after == made_in + 1) {
        ref.kind = Kind::ended;  // ended (maybe while we read), not yet reused
    } else {
        ref.kind = Kind::ended_forgotten;
    }
    return ref;
}

// A booking by id. An ended one is reported with its id, `active = false`, and while its record
// is not reused its patient and slot (the other fields are left empty): its details are
// history, which the journal keeps.
std::optional<BookingView> Engine::booking(BookingId b) const {
    const BookingRef ref = identify(b);
    if (ref.kind == BookingRef::Kind::unknown) return std::nullopt;
    BookingView ended;
    ended.id = b;
    if (ref.kind == BookingRef::Kind::ended) {  // whose it was, and where, are still known
        ended.patient = ref.patient;
        ended.slot_id = ref.slot;
        if (const auto s = slot(ref.slot)) ended.slot = *s;
    }
    if (ref.kind != BookingRef::Kind::live) return ended;
    PatientRecord* patient = patients_->find(ref.patient);
    if (patient == nullptr) return std::nullopt;
    PatientClaim claim(*patient);  // the details are stable while their patient's claim is held
    const BookingRecord& r = (*bookings_)[index_of(b)];
    if (r.generation.load(std::memory_order_acquire) != generation_of(b) ||
        !r.ready.load(std::memory_order_acquire) ||
        r.patient.load(std::memory_order_relaxed) != ref.patient.value) {
        return ended;
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
        snap.booking = current_id(SlotWord::owner(word));
        snap.patient =
            PatientKey{(*bookings_)[SlotWord::owner(word)].patient.load(std::memory_order_relaxed)};
    } else if (snap.state == SlotState::held) {
        const HoldRecord& h = (*holds_)[SlotWord::owner(word)];
        snap.hold = hold_id(SlotWord::owner(word), h.generation.load(std::memory_order_acquire));
        snap.patient = PatientKey{h.patient.load(std::memory_order_acquire)};
    }
    return snap;
}

bool Engine::record_access(const Actor& actor, const AccessRecord& access) {
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return false;
    Event& e = reservation.event();
    stamp(e, actor, EventKind::accessed, access.unit);
    e.patient = access.patient;
    e.on_behalf_of = access.on_behalf_of;
    e.booking = access.booking;
    e.action = access.action;
    e.outcome = access.outcome;
    reservation.publish();
    return true;
}

void Engine::stamp(Event& e, const Actor& actor, EventKind kind, UnitIdx unit) const {
    e.time = clock_.now();
    e.kind = kind;
    e.channel = actor.channel;
    e.actor = actor.id;
    e.actor_name = actor.name;
    e.unit = unit;
}

BookingFields booking_fields(const Event& made) {
    BookingFields f;
    f.slot_id = made.after.slot;
    f.patient = made.patient;
    f.channel = made.channel;
    f.actor = made.actor;
    f.actor_name = made.actor_name;
    f.changed_at = made.time;  // the booking's "changed at"
    f.from_waitlist = made.from_waitlist;
    f.waitlisted_at = made.waitlisted_at;
    f.phone = made.phone;
    f.reason = made.reason;
    return f;
}

std::string changed_by(const BookingView& b) {
    switch (b.channel) {
        case Channel::web:
            return std::string(web_system_identity);
        case Channel::staff:
            return std::string(b.actor_name.view()) + " (" + std::string(b.actor.view()) + ")";
        case Channel::proxy:
            return b.actor_name.empty() ? std::string(b.actor.view())
                                        : std::string(b.actor_name.view());
    }
    return {};
}

}  // namespace slotmatch
