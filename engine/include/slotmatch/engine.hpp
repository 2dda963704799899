// The engine: the region's slots in memory and every booking operation, decided by channel
// (web, proxy, staff) and actor under the rules of DOMAIN.md. Operations are thread-safe; the
// find/hold/book/rebook/cancel paths take no mutex (slot state is CASed, patient rules use the
// patient's claim). Every state change publishes one event into the bounded EventRings (lanes
// that parallel operations write without sharing); when an operation's lane is full it is
// refused with OVERLOADED and changes nothing.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <slotmatch/cache_line.hpp>
#include <slotmatch/calendar.hpp>
#include <slotmatch/catalog.hpp>
#include <slotmatch/clock.hpp>
#include <slotmatch/event_fold.hpp>
#include <slotmatch/event_ring.hpp>
#include <slotmatch/events.hpp>
#include <slotmatch/patients.hpp>
#include <slotmatch/record_table.hpp>
#include <slotmatch/slot_index.hpp>
#include <slotmatch/types.hpp>
#include <slotmatch/zeroed_memory.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace slotmatch {

// A refusal: the code of ARCHITECTURE.md, the request field it concerns, and why.
// Messages are static text so that a refusal never allocates.
template <typename T>
struct Outcome {
    ErrorCode code = ErrorCode::ok;
    std::string_view field;
    std::string_view message;
    T value{};

    bool ok() const { return code == ErrorCode::ok; }
    template <typename U>
    static Outcome refuse(const Outcome<U>& other) {
        return refuse(other.code, other.field, other.message);
    }
    static Outcome refuse(ErrorCode c, std::string_view f, std::string_view m) {
        Outcome o;
        o.code = c;
        o.field = f;
        o.message = m;
        return o;
    }
};

struct SlotView {
    SlotId id;
    UnitIdx unit;
    ResourceIdx resource;
    TypeIdx type;
    Instant start;
    Instant end;
    SlotState state = SlotState::free;
};

// What a booking records about itself: who it is for, who made it, and when.
struct BookingFields {
    SlotId slot_id;
    PatientKey patient;
    Channel channel = Channel::web;
    ActorText actor;
    ActorName actor_name;
    Instant changed_at;
    bool from_waitlist = false;
    Instant waitlisted_at;  // from the waitlist: when the patient was put on it (R22)
    PhoneText phone;        // R18: only when the unit has "patient comment web" on
    ReasonText reason;      // R18
};

struct BookingView : BookingFields {
    BookingId id;
    SlotView slot;
    bool active = false;  // still holds its slot (not cancelled, not rebooked)
};

struct HoldView {
    HoldId id;
    SlotView slot;
    PatientKey patient;
    Instant expires_at;
};

struct MoveResult {                     // rebook and cancel
    BookingView booking;                // rebook: the new booking; cancel: the cancelled one
    BookingId previous;                 // rebook: the booking it replaced
    bool billable = false;              // R23
    bool returned_to_waitlist = false;  // R22
};

struct BlockResult {
    BlockId id;
    std::size_t slots_changed = 0;       // slots that became blocked (or free again on unblock)
    std::size_t reserved_untouched = 0;  // booked or held slots a block leaves to the staff
};

struct WaitlistView {
    WaitlistEntryId id;
    UnitIdx unit;
    TypeIdx type;
    PatientKey patient;
    Instant added_at;
};

// Where to look for a slot: a unit, optionally narrowed to a type and a resource, and a time
// range [from, to). `from` defaults to now; `to` to the end of the schedule.
struct SlotQuery {
    // The most slots one search returns: it bounds a reply and the work of one find.
    static constexpr std::size_t limit_max = 1000;
    UnitIdx unit;
    std::optional<TypeIdx> type;
    std::optional<ResourceIdx> resource;
    std::optional<Instant> from;
    std::optional<Instant> to;
    std::size_t limit = 50;
};

struct BookRequest {
    // Exactly one of: a slot, a hold, or a query for the earliest free matching slot.
    std::optional<SlotId> slot;
    std::optional<HoldId> hold;
    std::optional<SlotQuery> match;
    PatientKey patient;
    PhoneText phone;
    ReasonText reason;
    bool from_waitlist = false;
};

struct RebookRequest {
    BookingId booking;
    std::optional<SlotId> slot;  // absent: the earliest free slot allowed (--first)
    PatientKey patient;          // web/proxy: the citizen the request is made for
};

// One access to a patient's bookings for the access log (Patientdatalagen): who (the actor),
// what, how it ended, whose bookings, for whom (web/proxy: the citizen the request names).
struct AccessRecord {
    AccessAction action = AccessAction::none;
    ErrorCode outcome = ErrorCode::ok;
    PatientKey patient;
    PatientKey on_behalf_of;
    UnitIdx unit = no_unit;
    BookingId booking;
};

struct EngineLimits {
    std::size_t events_max = std::size_t{1} << 14;  // events per lane of the outbound buffer
    std::size_t event_lanes = 64;                   // lanes: operations changing state at once
    std::size_t patients_max = 0;                   // 0: derived from the slot count
    std::size_t bookings_max = 0;                   // 0: derived from the slot count
    std::size_t holds_max = 0;                      // 0: derived from the slot count
    // Slots a run may publish beyond what it started with (the table is reserved, and costs
    // memory only as used; each start makes this much room again).
    std::size_t published_slots_max = std::size_t{1} << 20;
    // Waiting patients and active blocks at once (their records are reused when they end).
    // 0: derived from the region (see Engine::room()); the tables cost memory only as used.
    std::size_t blocks_max = 0;
    std::size_t waitlist_max = 0;
    std::size_t match_attempts_max = 256;  // book-first-match retries under contention
    // Appointment types a run may add (admin type add) beyond the ones it started with; each
    // start makes this much room again. Each addition keeps a copy of the catalog for the run
    // (9.8 MiB for the 1,200-unit generated region; docs/engine.md), so the room is small:
    // types are added a few times a year.
    std::size_t types_added_max = 32;
};

// A published schedule as the engine keeps it (docs/engine.md, "Slot identity").
struct ScheduleView {
    ScheduleId id;
    Schedule schedule;           // valid_to_day as it is now: extended, or ended early
    bool seed = false;           // laid out by the region file (its diff extends or ends it)
    bool ended = false;          // ended before its first day: it lays out nothing any more
    std::size_t slots = 0;       // slots its groups published
    std::size_t removed = 0;     // end_schedule: slots it removed
    LocalDay seed_valid_to = 0;  // seed: the last day the region file last gave it
};

// R9: what an administration change sets on an appointment type; what it leaves out stays.
struct TypeChange {
    std::optional<std::string> web_name;  // "" takes the type off the web (R7)
    std::optional<std::string> web_info;
    std::optional<bool> web_bookable, web_cancellable, web_rebookable;
    std::optional<bool> hide_from_patient;          // R6: true clears the three flags
    std::optional<std::optional<int>> window_days;  // R10: N, or nothing (60 days ahead, R11)
};
// R1-R8, R10: a new appointment type: its id, internal name, duration and unit (none:
// region-wide), and its settings as set_type takes them (absent ones: off, 60 days ahead).
struct NewType {
    std::string id;
    std::string name;
    int duration_min = 0;
    std::optional<UnitIdx> unit;
    TypeChange settings;
};
// R9, R18, R24, R25: what an administration change sets on a unit.
struct UnitChange {
    std::optional<bool> booking_active;        // case type "Boka tid"
    std::optional<bool> cancel_rebook_active;  // case type "Av/omboka tid"
    std::optional<bool> patient_comment;       // R18
    std::optional<std::string> terms_book, terms_cancel_rebook;
};
// Bounds on the texts settings take: what one screen of the web booking shows.
inline constexpr std::size_t web_name_bytes_max = 200;
inline constexpr std::size_t web_text_bytes_max = 2000;  // web_info and terms texts

// One difference between the region file and the seed the store holds, applied at start as
// an administration event (Engine::seed_changes, apply_seed_change).
struct SeedChange {
    enum class Kind : std::uint8_t {
        record_entity,
        publish,
        extend,
        end,
        settings,
        day_count  // a schedule's day count (R10): schedule has the region file's
    } kind = Kind::publish;
    Schedule schedule;                     // publish: the new schedule; extend, end: the stored one
    ScheduleId id;                         // extend, end
    LocalDay day = 0;                      // extend: the new last day; end: the last day kept
    EntityKind entity = EntityKind::none;  // record_entity: which catalog entity
    std::uint32_t index = 0;
    // end of a seed schedule the file no longer has: the new schedule (same resource and type)
    // that takes over its time, published after the ends as `replaced_by`. The end keeps the
    // slots that lie in the replacement's pattern, booked ones included, and the replacement
    // lays out only the rest (a schedule's hours or days changed in the file).
    ScheduleId replaced_by{};
    Schedule replacement{};
};

// What recovery rebuilt from the stored events.
// How many of each record the engine has room for at once (the tables are sized at start).
struct EngineRoom {
    std::size_t patients = 0;
    std::size_t bookings = 0;
    std::size_t holds = 0;
    std::size_t blocks = 0;
    std::size_t waitlist = 0;
};

struct RestoreSummary {
    std::uint64_t events = 0;
    std::uint64_t last_seq = 0;
    std::size_t bookings = 0;  // active bookings
    std::size_t holds = 0;     // live holds
    std::size_t blocks = 0;    // active blocking events
    std::size_t waitlist = 0;  // patients waiting
    std::size_t published_slots = 0;
    std::size_t type_changes = 0;
    std::size_t type_removals = 0;
    std::size_t schedules = 0;  // published by the stored events
    std::size_t schedules_ended = 0;
    bool seed_unrecorded = false;  // the region file's seed is laid out, not yet recorded
    std::size_t prelaid_slots = 0;  // the first group's slots as prelay() had laid them out
};

// One pass over the stored events in sequence order: `visit` for each until it returns false.
// False, with the reason in `why`, when the store cannot be read or an event is damaged.
using EventScan =
    std::function<bool(const std::function<bool(const Event&)>& visit, std::string& why)>;

class Engine {
  public:
    // publish: the catalog's schedules are laid out at once as the first publication group,
    // with no events (tests, the demo, a server without a store). none: nothing is laid out
    // until restore() rebuilds what a store holds, or lays out the seed (docs/engine.md).
    enum class Seed : std::uint8_t { publish, none };
    Engine(Catalog catalog, const Clock& clock, EngineLimits limits = {},
           Seed seed = Seed::publish);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // The catalog as it is now: the region file's, and the types added live (a new, immutable
    // copy each time; the ones handed out stay valid while the engine runs). Its settings are
    // the ones loaded: type_now and web_now give them as they are now.
    const Catalog& catalog() const { return *catalog_view_.load(std::memory_order_acquire); }
    // Appointment types there are now: the indices below are valid (type_now).
    std::uint32_t type_count() const { return type_count_.load(std::memory_order_acquire); }
    const Calendar& calendar() const { return calendar_; }
    Instant now() const { return clock_.now(); }
    std::size_t slot_count() const { return index_.size(); }
    EngineRoom room() const;
    // The bytes one booking record takes in its table, its link included (what a booking adds
    // besides its patient: bench/slotmatch_footprint).
    static std::size_t booking_record_bytes();
    std::optional<SlotView> slot(SlotId s) const;
    EventRings& events() { return *events_; }

    // Free slots the actor's channel may book, sorted by start (R2, R6-R8, R10, R11, R25).
    Outcome<std::vector<SlotView>> find(const Actor& actor, const SlotQuery& query) const;
    // The earliest free slot of one resource and type that the actor's channel may book,
    // starting after `from` (and after now): one shard, no sorting, no allocation.
    std::optional<SlotView> earliest_free(const Actor& actor, ResourceIdx resource, TypeIdx type,
                                          Instant from) const;
    Outcome<HoldView> hold(const Actor& actor, SlotId slot, PatientKey patient);
    Outcome<BookingView> book(const Actor& actor, const BookRequest& request);
    Outcome<MoveResult> rebook(const Actor& actor, const RebookRequest& request);
    // `patient`: the citizen a web/proxy request is made for (ignored for staff).
    Outcome<MoveResult> cancel(const Actor& actor, BookingId booking, PatientKey patient);
    Outcome<std::vector<BookingView>> bookings(const Actor& actor, PatientKey patient) const;
    std::optional<BookingView> booking(BookingId b) const;

    // Staff, inside their own unit.
    Outcome<BlockResult> block(const Actor& actor, ResourceIdx resource, Instant from, Instant to,
                               std::string_view reason);
    Outcome<BlockResult> unblock(const Actor& actor, BlockId block);
    Outcome<SlotView> publish_slot(const Actor& actor, ResourceIdx resource, TypeIdx type,
                                   Instant start);
    Outcome<SlotView> change_slot_type(const Actor& actor, SlotId slot, TypeIdx type);
    // R14: one slot taken out of the calendar; a booked or held one is refused.
    Outcome<SlotView> remove_slot(const Actor& actor, SlotId slot);
    Outcome<BlockResult> remove_type(const Actor& actor, UnitIdx unit, TypeIdx type);
    // Schedules (R13, R14): published slots get their ids at once and keep them. `seed`: laid
    // out by the region file (apply_seed_change); live ones are the staff's.
    Outcome<ScheduleView> publish_schedule(const Actor& actor, const Schedule& schedule);
    Outcome<ScheduleView> extend_schedule(const Actor& actor, ScheduleId id, LocalDay valid_to);
    // Removes the schedule's free slots after `last_day`. A booked or held one among them
    // refuses the whole end (SLOT_ALREADY_RESERVED; the bookings in `in_the_way`) unless
    // `accept_orphans`: booked ones then stay booked, and are removed when cancelled.
    Outcome<ScheduleView> end_schedule(const Actor& actor, ScheduleId id, LocalDay last_day,
                                       bool accept_orphans, std::vector<BookingId>& in_the_way);
    std::vector<ScheduleView> schedules() const;
    std::optional<ScheduleView> schedule(ScheduleId id) const;

    // Live settings (R9, engine_settings.cpp): take effect at once, for everyone, whole (a
    // request sees a type's or unit's settings before a change or after it, never a mix).
    // A local type: its unit's staff or a region administrator; a region-wide or proxy type
    // (R8): a region administrator only. A unit's settings: its staff.
    Outcome<AppointmentType> set_type(const Actor& actor, TypeIdx type, const TypeChange& change);
    // R14, by a region administrator: the type taken out of every unit's schedule, and out of
    // the region (offered and scheduled nowhere any more).
    Outcome<BlockResult> remove_type_everywhere(const Actor& actor, TypeIdx type);
    Outcome<WebSettings> set_unit(const Actor& actor, UnitIdx unit, const UnitChange& change);
    // R1-R8, R10: a new appointment type, in force at once for everyone (docs/engine.md,
    // "Appointment types added live"), by the same actors as set_type: a local one by its
    // unit's staff or a region administrator, a region-wide or proxy one (R8) by a region
    // administrator. Recorded as entity_recorded with its whole definition.
    Outcome<TypeIdx> add_type(const Actor& actor, const NewType& type);
    // The settings as they are now (the catalog's as loaded, until a change).
    const AppointmentType& type_now(TypeIdx t) const {
        return *types_now_[t.value].load(std::memory_order_acquire);
    }
    const WebSettings& web_now(UnitIdx u) const {
        return *webs_now_[u.value].load(std::memory_order_acquire);
    }
    // The catalog with the settings as they are now (catalog replies).
    Catalog catalog_now() const;

    // The region file as the seed (docs/engine.md, "The region file as the seed").
    // True while the seed restore() laid out has no events in the store yet.
    bool seed_unrecorded() const {
        std::lock_guard admin(admin_mutex_);
        return seed_unrecorded_;
    }
    // Records the seed restore() laid out (a new store, or one written before slot ids were
    // kept): its catalog entities and its schedules as events. `make_room` is called whenever
    // the event lanes are full; it must drain them. False, with `why`, when they stay full or
    // an id is longer than an event carries.
    // `recorded`, when given, gets "unit U", "resource R" or "appointment type T" for each
    // entity new to the store.
    bool record_seed(const std::function<void()>& make_room, std::string& why,
                     std::vector<std::string>* recorded = nullptr);
    // What the region file changes against the seed the store holds: new entities to record,
    // new schedules, schedules extended, shortened or gone.
    std::vector<SeedChange> seed_changes() const;
    // An end among them that booked or held slots stand in the way of (the bookings in
    // `in_the_way`), checked before anything is applied, so that a refused start changes
    // nothing.
    bool seed_end_in_the_way(const SeedChange& end, std::vector<BookingId>& in_the_way) const;
    // Applies one change as the region file's actor (an end refused for bookings names them).
    Outcome<ScheduleView> apply_seed_change(const SeedChange& change, bool accept_orphans,
                                            std::vector<BookingId>& in_the_way);
    Outcome<WaitlistView> waitlist_add(const Actor& actor, UnitIdx unit, TypeIdx type,
                                       PatientKey patient);
    // The unit's waitlist in the order the patients were put on it (R22: one returned to it
    // keeps their place).
    Outcome<std::vector<WaitlistView>> waitlist(const Actor& actor, UnitIdx unit) const;
    // Staff take a patient off the waitlist; the entry is gone at once and its record reused.
    Outcome<WaitlistView> waitlist_remove(const Actor& actor, WaitlistEntryId entry);

    // Publishes an `accessed` event through the event rings (a lane slot reserved like any
    // other event's). False when the rings have no room: the caller must then refuse the
    // access with OVERLOADED, so that no read or refusal goes unrecorded.
    bool record_access(const Actor& actor, const AccessRecord& access);

    // Frees held slots whose hold has expired and emits hold_expired events. A held slot whose
    // hold has expired is bookable even before this runs; this makes the expiry visible.
    std::size_t expire_holds();
    // R10: a schedule's day count (1..366; 0: its type's), on its slots at once.
    Outcome<ScheduleView> set_schedule_day_count(const Actor& actor, ScheduleId id, int days);
    // The region file now gives seed schedule `id` the last day `day`, which staff reached
    // already (extended or ended it live): recorded (schedule_changed with `day`), so that the
    // next start compares against it and does not undo the live change.
    Outcome<ScheduleView> note_seed_reach(ScheduleId id, LocalDay day);
    // Ends the blocking events whose end has passed (unblocked events, by "slotmatch") and
    // frees their records. They cover only slots that have started, which no one can book.
    std::size_t end_past_blocks();

    // Recovery: rebuilds, on an engine that has done nothing yet, the state the stored events
    // describe (bookings with their ids, holds, blocks, the waitlist, published slots and
    // schedule changes), and continues the event numbering after them. `scan` is called
    // twice. Nothing, with the reason in `why`, when the events are not a gap-free sequence
    // from 1 or do not fit this region's config. docs/engine.md has the rules it relies on.
    // From a snapshot (`base`, event_fold.hpp): `scan` gives the events it kept (its seq and
    // below, in order), then every event after its seq, without a gap.
    // `ahead`: the snapshot's kept events alone: its first publication group is laid out from
    // them (prelay) while `scan` is read the first time, on another thread, and kept when
    // the events record the same group (a national region's layout no longer waits for the
    // events after the snapshot to be read).
    std::optional<RestoreSummary> restore(const EventScan& scan, std::string& why,
                                          const FoldState* base = nullptr,
                                          const EventScan* ahead = nullptr);
    // A standby's head start (docs/operations.md, "A hot standby"): lays out the first
    // publication group that `scan`'s events record (a snapshot's kept events, or a store's
    // events), on an engine that has done nothing yet, so that restore() keeps it instead of
    // laying it out again: a national region's first group is its 23 M slots. restore() keeps
    // it only when the events it reads record the same group, laid out from the same
    // schedules with the same durations; otherwise it lays everything out as always. The
    // number of slots laid out (0: the events record no whole first group).
    std::size_t prelay(const EventScan& scan, std::string& why);
    // A fingerprint of the booking state: every slot's facts, state and owner, the active
    // bookings with their details, live holds, blocks and the waitlist. Slot versions are left
    // out (they only order changes; recovery continues them, it does not reproduce them).
    std::uint64_t state_hash() const;

  private:
    // Sizes the patient, booking and hold tables (limits of 0) for `stored_slots` slots and
    // what the region file lays out, growing them only; before anything is handed out
    // (construction, restore: no count over a store's life may stop a start).
    void size_tables(std::size_t stored_slots);
    // Points the types' settings, the readers' catalog and the seeds at catalog_'s types, with
    // room for types_added_max more (construction, and restore() once it numbered the types).
    void point_at_types();
    class Restorer;
    struct BookingRecord;
    struct BookingRef;
    struct HoldRecord;
    struct BlockRecord;
    struct BlockSpan;
    struct WaitlistRecord;
    class Reservation;
    struct LaneRecords;

    // What a new booking may take: for a new booking the channel's type rules apply; for a
    // rebooking, web citizens keep the source's resource and type (R15, R16).
    struct Target {
        PatientKey patient;
        std::optional<HoldId> via_hold;
        std::optional<BookingId> replacing;
        TypeIdx same_type;
        ResourceIdx same_resource;
    };
    struct Taken {
        BookingId id;
        SlotSnapshot before;      // taken before the CAS, so a hold it names was still live
        std::uint64_t after = 0;  // the slot word the CAS installed
    };

    // Checks, in the order of ARCHITECTURE.md's error precedence.
    Outcome<bool> check_actor(const Actor& actor) const;
    Outcome<bool> check_type_in_unit(TypeIdx type, UnitIdx unit) const;
    Outcome<bool> check_query(const SlotQuery& query) const;
    Outcome<bool> check_request_patient(const Actor& actor, PatientKey patient) const;
    Outcome<BookingRef> check_booking_access(const Actor& actor, BookingId booking,
                                             PatientKey patient) const;
    bool acts_in_unit(const Actor& actor, UnitIdx unit) const;
    ErrorCode may_book_type(const Actor& actor, UnitIdx unit, TypeIdx type) const;
    // R10, R11: whether a citizen may see the slot now (its schedule's day count, else its
    // type's), and where a scan of a shard for them may stop.
    bool within_window(const SlotRecord& rec, Instant now) const;
    void note_day_count(int days);
    void set_day_count(ScheduleView& s, int days, std::size_t below);
    Instant shard_window_end(TypeIdx type, Instant now) const;
    Instant window_end(int days, Instant now) const;
    int window_days(TypeIdx type) const;
    bool valid_patient(PatientKey p) const;
    // Everything take_slot decides from one reading of the slot word; `patient` may be null
    // for a first look before the patient's claim is taken.
    Outcome<bool> check_take(const Actor& actor, const SlotRecord& rec, std::uint64_t word,
                             const Target& target, const PatientRecord* patient, Instant now) const;
    Outcome<bool> check_hold(const Actor& actor, const SlotRecord& rec, std::uint64_t word,
                             Instant now) const;

    BookingFields draft(const Actor& actor, const BookRequest& request, UnitIdx unit) const;
    Outcome<Taken> take_slot(const Actor& actor, SlotId slot, const Target& target,
                             const BookingFields& fields, PatientRecord& patient,
                             Reservation& lane);
    Outcome<BookingView> book_slot(const Actor& actor, SlotId slot, const BookRequest& request,
                                   std::optional<HoldId> via_hold, Reservation& reservation);
    Outcome<BookingView> book_first(const Actor& actor, const SlotQuery& query,
                                    const BookRequest& request, Reservation& reservation);
    Outcome<Taken> take_for_rebook(const Actor& actor, const RebookRequest& request,
                                   const BookingRef& source, const BookingFields& fields,
                                   PatientRecord& patient, Reservation& lane);
    // Rebook's steps around take_for_rebook: may the actor move it, what the new booking
    // records, and (the target taken) the event, the release of the source and its retirement.
    Outcome<bool> check_rebook(const Actor& actor, const RebookRequest& request,
                               const BookingRef& source) const;
    BookingFields moved_fields(const Actor& actor, BookingId b, Instant now) const;
    MoveResult finish_rebook(const Actor& actor, const BookingRef& source, const Taken& target,
                             const BookingFields& fields, PatientRecord& patient,
                             Reservation& reservation);
    std::optional<SlotId> first_free(const Actor& actor, const Shard& shard, Instant from,
                                     Instant to, std::optional<SlotId> skip) const;

    // Slot state helpers. "Open": free, or held by a hold that has expired.
    bool open(std::uint64_t word, Instant now) const;
    bool covered(const SlotRecord& rec) const;  // an active block or a removed type lies on it
    std::optional<BlockSpan> active_block(std::uint64_t index) const;
    // Ends an active block under admin_mutex_: its slots to rest, the event, the record freed.
    BlockResult end_block(const Actor& actor, const BlockSpan& block, Reservation& reservation);
    std::uint64_t rest_word(const SlotRecord& rec, std::uint64_t word) const;
    std::uint64_t settle(SlotRecord& rec, std::uint64_t word);
    std::uint64_t release_source(BookingId b, PatientRecord& patient, std::uint64_t word,
                                 std::uint64_t rest);
    void retire(BookingId b, Reservation& lane);
    // Booking records freed and taken through the operation's event lane (see LaneRecords).
    std::optional<std::uint64_t> take_record(Reservation& lane);
    void put_record(Reservation& lane, std::uint64_t index);

    bool overlaps_booking(const PatientRecord& p, Instant start, Instant end,
                          std::optional<BookingId> except) const;
    void forget_ended(PatientRecord& p, Instant now) const;
    void record_booking(PatientRecord& p, BookingId b, std::optional<BookingId> replacing) const;
    std::optional<BookingId> active_booking(BookingId b) const;
    BookingRef identify(BookingId b) const;
    BookingId current_id(std::uint64_t index) const;

    // Waitlist entries (engine_admin.cpp). waiting_at reads a record whole, or nothing when
    // it holds no waiting entry; the others change a patient's entries under the patient's claim.
    std::optional<WaitlistView> waiting_at(std::uint64_t index) const;
    std::optional<std::uint64_t> find_waiting(UnitIdx unit, TypeIdx type, PatientKey p) const;
    std::optional<std::uint64_t> add_waiting(UnitIdx unit, TypeIdx type, PatientKey p,
                                             Instant added_at);
    void fill_waiting(std::uint64_t index, UnitIdx unit, TypeIdx type, PatientKey p,
                      Instant added_at);  // a record allocate() gave
    void end_waiting(std::uint64_t index);

    // Schedules, under admin_mutex_ (engine_schedules.cpp).
    Outcome<bool> check_schedule(const Actor& actor, const Schedule& s,
                                 std::optional<ScheduleId> except) const;
    Outcome<ScheduleView> publish_checked(const Actor& actor, const Schedule& s, bool seed);
    // R14: the type's future slots in the unit taken off, and its slot_removed event written
    // into `e` (the caller publishes it). Under admin_mutex_.
    BlockResult take_type_off(const Actor& actor, UnitIdx unit, TypeIdx type, Event& e);
    // end_schedule, keeping the slots in `spare`'s pattern (a replacement's, SeedChange).
    Outcome<ScheduleView> end_checked(const Actor& actor, ScheduleId id, LocalDay last_day,
                                      bool accept_orphans, std::vector<BookingId>& in_the_way,
                                      ScheduleId replaced_by, const Schedule* spare);
    // The slots below `below` that `spare`'s pattern covers (none without one).
    std::unordered_set<std::uint32_t> spared_slots(const Schedule* spare, std::size_t below) const;
    // Whether booked or held slots of `s` after `last_day` (below `below`, not spared) stand in
    // the way of its end; the bookings in `in_the_way`.
    bool reserved_after(const Schedule& s, LocalDay last_day, std::size_t below,
                        const std::unordered_set<std::uint32_t>& spared,
                        std::vector<BookingId>& in_the_way) const;
    // Lays out `schedules` as one group (the next ids) and registers each under `ids`.
    std::optional<SlotId> lay_out(std::span<const Schedule> schedules,
                                  std::span<const ScheduleId> ids, bool seed,
                                  std::vector<std::size_t>& slots);
    // A removed slot that is still booked or held (an orphan, docs/engine.md) overlapping
    // [start, end) on `r`, or where `schedules` would lay out slots: its time is offered again
    // only once the booking is moved or cancelled. Under admin_mutex_.
    std::optional<SlotId> orphan_in_the_way(ResourceIdx r, Instant start, Instant end) const;
    std::optional<SlotId> orphan_in_the_way(std::span<const Schedule> schedules) const;
    // The slots of the schedule's resource that its pattern lays out after `last_day`, among
    // ids below `below`, whatever their type now.
    template <typename F>
    void for_each_slot_after(const Schedule& s, LocalDay last_day, std::size_t below, F&& f) const;
    // R14: marks the slot removed, and makes it unbookable now if it is open (then 1).
    std::size_t take_off(SlotId s, Instant now);
    void fill_schedule_event(Event& e, const ScheduleView& s) const;
    bool record_entities(const std::function<void()>& make_room, std::string& why,
                         std::vector<std::string>* recorded);
    // Keeps `c` for good and makes it the entity's settings (the caller holds admin_mutex_).
    const ConfigChange& install(ConfigChange c);
    bool may_change_type(const Actor& actor, const AppointmentType& t) const;
    Outcome<ScheduleView> apply_seed_settings(const SeedChange& change);
    // Publishes one event that `fill` writes, calling `make_room` while the lanes are full.
    bool publish_one(const std::function<void()>& make_room,
                     const std::function<void(Event&)>& fill, std::string& why);
    void lay_out_seed();  // the catalog's schedules as the first group, without events
    Actor seed_actor(UnitIdx unit) const;

    SlotView view(SlotId s) const;
    BookingView view(BookingId b) const;
    SlotSnapshot snapshot(SlotId s, std::uint64_t word) const;
    void stamp(Event& e, const Actor& actor, EventKind kind, UnitIdx unit) const;

    Catalog catalog_;
    Calendar calendar_;
    const Clock& clock_;
    EngineLimits limits_;
    SlotIndex index_;
    std::unique_ptr<PatientTable> patients_;
    std::unique_ptr<RecordTable<BookingRecord>> bookings_;
    std::unique_ptr<RecordTable<HoldRecord>> holds_;
    std::unique_ptr<RecordTable<BlockRecord>> blocks_;
    std::unique_ptr<RecordTable<WaitlistRecord>> waitlist_;
    // Per resource: the active blocks lying on it. Almost always zero, which lets the booking
    // path skip the slower coverage look-up.
    std::unique_ptr<std::atomic<std::uint32_t>[]> active_blocks_per_resource_;
    // R10: the longest day count any schedule was given (only grows); see shard_window_end.
    std::atomic<int> longest_schedule_window_{0};
    std::unique_ptr<EventRings> events_;
    std::unique_ptr<LaneRecords[]> lane_records_;  // one per event lane
    // Live holds in the order they were made (one TTL, so in the order they expire): hold
    // index + 1 per entry, 0 while a producer is still writing it. The expiry sweep, the one
    // consumer, releases each hold record after its hold has ended.
    std::unique_ptr<ZeroedArray<std::atomic<std::uint64_t>>> hold_queue_;
    // Own cache line: every hold bumps it, and every operation reads the pointers above.
    alignas(cache_line_bytes) std::atomic<std::uint64_t> hold_queue_tail_{0};
    std::uint64_t hold_queue_head_ = 0;  // under admin_mutex_
    // Serialises the rare admin changes (blocks, schedule changes) with each other; never
    // taken by find/hold/book/rebook/cancel.
    mutable std::mutex admin_mutex_;
    std::vector<ScheduleView> schedules_;  // under admin_mutex_: schedule id - 1
    // prelay()'s first group, as laid out: what restore() compares before keeping it.
    struct Prelaid {
        std::vector<Schedule> specs;
        std::vector<ScheduleId> ids;
        std::vector<int> durations;  // of each spec's type, as laid out
        bool seed = false;
        std::size_t slots = 0;
    };
    std::optional<Prelaid> prelaid_;
    // Every settings change made or recovered, kept for as long as the engine runs: the
    // settings pointers below and the events point at them (under admin_mutex_ to add).
    std::deque<ConfigChange> configs_;
    // Per type and per unit: its settings now (the catalog's, or a change's in configs_).
    // Room for the catalog's types and types_added_max more; type_count_ of them are in use.
    std::unique_ptr<std::atomic<const AppointmentType*>[]> types_now_;
    std::size_t types_room_ = 0;
    std::atomic<std::uint32_t> type_count_{0};
    // The catalog readers see: catalog_, or the newest of catalogs_ (one per type added live,
    // each kept while the engine runs; under admin_mutex_ to add).
    std::atomic<const Catalog*> catalog_view_{nullptr};
    std::deque<Catalog> catalogs_;
    std::unique_ptr<std::atomic<const WebSettings*>[]> webs_now_;
    // The settings the region file last gave each entity (its diff compares against them).
    std::vector<AppointmentType> seed_types_;
    std::vector<WebSettings> seed_webs_;
    // Catalog entities (units, resources, types) the store holds with their ids: the ones
    // beyond are recorded by apply_seed_change.
    std::array<std::uint32_t, 4> entities_recorded_{};  // by EntityKind
    bool seed_unrecorded_ = false;  // the seed group is laid out, its events not yet published
};

// R17: "Ändrad av" as the unit's staff see it.
std::string changed_by(const BookingView& b);
// What a booking records about itself, as the event that made it (booked, or the rebook that
// moved a booking into it) carries it: recovery and the store's booking details read it so.
BookingFields booking_fields(const Event& made);

}  // namespace slotmatch
