// The journal's durable event log in SQLite: one row per engine event, in sequence order, with
// the event itself as a FlatBuffers `wire::Event` and the columns the web booking log and the
// access audit query (time, kind, channel, unit, patient, booking). Opened in WAL mode with
// synchronous=FULL, so a committed batch survives power loss; one batch is one transaction
// (group commit). The schema is versioned and migrated on open; a store that fails SQLite's
// integrity check, or whose events do not verify, is refused with a message naming the damage.
//
// Sequence numbers are the journal's contract with the engine: a batch continues the log
// exactly. Events at or below the last committed number are duplicates (a resend after a lost
// acknowledgement) and are skipped; a batch that starts beyond the next number is a gap, which
// is refused whole and reported, because an event would be missing for good.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <slotmatch/events.hpp>
#include <span>
#include <string>
#include <vector>

struct sqlite3;

namespace slotmatch::journal {

inline constexpr int schema_version = 3;

// The web booking log (R19-R23): one row per booking, rebooking and cancellation made on the
// web channel, written in the same transaction as the event it comes from, and purged after
// log_retention_s (R20). A row is stored as its key (unit, changed_at, seq); its values come
// from the event (web_log_row), so a purged row is gone from the log while the event stays. The
// events themselves are never deleted (they are the recovery source); only log rows are.
inline constexpr std::int64_t log_retention_s = 31 * seconds_per_day;  // R20
inline constexpr std::size_t log_rows_max = 10'000;                    // rows in one reply
// SQLite keeps the log's entries in this many time-ordered runs, by unit (event_store.cpp): a
// batch writes at the ends of at most this many, a unit's query reads its run of the window.
inline constexpr std::uint32_t log_buckets = 64;

enum class LogStatus : std::uint8_t { booked = 0, rebooked = 1, cancelled = 2 };
std::string_view to_string(LogStatus s);  // "Booked", "Rebooked", "Cancelled"

// A booking's values one side of a change (R21). Catalog indices, as in the events.
struct LogValues {
    SlotId slot;
    ResourceIdx resource;
    TypeIdx type;
    Instant start;
    BookingId booking;
    std::string phone;   // R18, where set
    std::string reason;  // R18, where set
    friend bool operator==(const LogValues&, const LogValues&) = default;
};

struct LogRow {
    std::uint64_t seq = 0;  // the event's
    UnitIdx unit;
    Instant changed_at;
    LogStatus status = LogStatus::booked;
    std::string changed_by;  // R17
    PatientKey patient;
    std::optional<LogValues> before;  // none for a new booking
    std::optional<LogValues> after;   // none for a cancellation
    bool billable = false;            // R23
};

// Whether an event makes a log row: web-channel booked, rebooked and cancelled events only.
bool makes_log_row(const Event& e);
// The log row an event makes (nothing for the others). The store keeps the row's key (unit,
// changed_at, seq) and reads its values from the event, so one function decides both.
std::optional<LogRow> web_log_row(const Event& e);

struct AppendResult {
    bool ok = false;
    std::uint64_t committed_through = 0;  // the highest sequence number now in the store
    std::size_t appended = 0;
    std::size_t duplicates = 0;      // skipped: already in the store
    std::uint64_t gap_expected = 0;  // set when refused for a gap: the number that is missing
    std::string error;               // why not ok (a gap, a full disk, a damaged store)
};

// The contract of an event store, kept by SQLite (below) and PostgreSQL (pg_store.hpp).
class EventStore {
  public:
    virtual ~EventStore() = default;
    // Appends `events` (ascending sequence numbers) in one transaction.
    virtual AppendResult append(std::span<const Event> events) = 0;
    virtual std::uint64_t last_seq() const = 0;
    virtual int version() const = 0;
    // Every event with seq >= from, in order, until `visit` returns false. False with `why`
    // when a stored event does not verify (the store is damaged) or cannot be read.
    virtual bool scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
                      std::string& why) const = 0;
    // Makes this the store's one writer for as long as it is open (slotmatchd --store and
    // slotmatch-journal claim it; readers need not): false, saying why, when another process
    // holds the claim, since two writers would number events over each other.
    virtual bool claim_writer(std::string& why) = 0;
    // The unit's log rows changed at or after `since`, by changed_at then seq, at most
    // `limit`; false with `why` when the store cannot be read.
    virtual bool web_log(UnitIdx unit, Instant since, std::size_t limit, std::vector<LogRow>& out,
                         std::string& why) const = 0;
    // The events filed under `patient` at or after `since`, in sequence order, at most `limit`.
    virtual bool audit(PatientKey patient, Instant since, std::size_t limit,
                       std::vector<Event>& out, std::string& why) const = 0;
    // Deletes the log rows changed before `cutoff` (R20); how many, or nothing with `why`.
    virtual std::optional<std::size_t> purge_web_log(Instant cutoff, std::string& why) = 0;
    // The time of the last committed event (0 when there is none).
    virtual Instant last_time() const = 0;
};

// Group commit by count: one transaction takes at most this many events (the embedded journal
// and slotmatch-journal alike). Under load the queue fills a transaction; a larger one costs
// less per event (slotmatch_store_bench, web bookings: 297-308 k events/s at 4,096, 372 k at
// 16,384), and by time a transaction starts as soon as the previous one has synced.
inline constexpr std::size_t commit_events_max = 16384;

inline constexpr const char* writer_taken =
    "another slotmatchd or slotmatch-journal is writing to this store (one writer per store)";

// The access audit (Patientdatalagen): every event that touched a patient's bookings, hold or
// waitlist (booked, rebooked, cancelled, held, waitlist_added, returned_to_waitlist) and every
// `accessed` event (a read, or a refusal) is filed under that patient in the batch's
// transaction. Entries are kept by (patient bucket, seq): a batch touches at most
// audit_buckets places of the tree, and a patient's audit reads one bucket.
inline constexpr std::uint64_t audit_buckets = 64;
// The numbers both stores' migrations write into their SQL backfills (web channel; the kinds
// that make log rows; the audited kinds; the buckets).
static_assert(static_cast<int>(Channel::web) == 0 && static_cast<int>(EventKind::held) == 5 &&
              static_cast<int>(EventKind::booked) == 7 &&
              static_cast<int>(EventKind::rebooked) == 8 &&
              static_cast<int>(EventKind::cancelled) == 9 &&
              static_cast<int>(EventKind::returned_to_waitlist) == 10 &&
              static_cast<int>(EventKind::waitlist_added) == 11 &&
              static_cast<int>(EventKind::accessed) == 12 && audit_buckets == 64 &&
              log_buckets == 64);
inline constexpr std::size_t audit_rows_max = 10'000;  // entries in one reply
// Adds the log row of an event the web booking log names to `out`; false, saying why, when the
// event is no web change (the log and the events disagree).
bool add_log_row(const Event& e, std::vector<LogRow>& out, std::string& why);
// Whose bookings an event touched (none: 0).
PatientKey audit_patient(const Event& e);
// The audit's action word for an event: "book", "cancel", ... or an accessed event's action.
std::string_view audit_action(const Event& e);

// When a journal purges the web booking log (R20): at most every purge_check_ms of wall time
// it looks at its clock, and purges when the cut-off (now - log_retention_s) has moved by
// purge_step_s since the last purge, or backwards past it; so a real clock purges about once a
// minute and a fixed clock moved ahead (`slotmatch admin clock --set`) within a second.
class LogPurgeSchedule {
  public:
    static constexpr int purge_check_ms = 500;
    static constexpr std::int64_t purge_step_s = 60;
    // The cut-off to purge at now, or nothing when no purge is due.
    std::optional<Instant> due(Instant now, std::chrono::steady_clock::time_point wall);
    void failed() { last_cutoff_.reset(); }  // the purge did not happen: due again next check

  private:
    std::chrono::steady_clock::time_point checked_{};
    std::optional<Instant> last_cutoff_;
};
// Runs a purge if one is due; prints a failure on stderr (prefixed with `who`).
void purge_if_due(EventStore& store, LogPurgeSchedule& schedule, Instant now, const char* who);

// "sqlite:PATH" or a libpq URI "postgresql://..."; nothing, with the reason in `why`, when the
// store cannot be opened, is damaged, or the address is neither.
std::unique_ptr<EventStore> open_store(const std::string& address, std::string& why);
// A second connection to a store another connection writes (a reader for queries): no
// integrity check, no migration; refused when the store is not at schema_version.
std::unique_ptr<EventStore> open_reader(const std::string& address, std::string& why);

// Shared by the stores. The events of a batch that are new, after the `duplicates` (at or
// below last_seq) it skips; nothing, with the gap in `r`, when they do not continue from
// last_seq exactly.
std::optional<std::span<const Event>> new_events(std::span<const Event> events,
                                                 std::uint64_t last_seq, AppendResult& r);
// Brings a store at schema `at` to schema_version: `apply(v)` runs migration v (0-based) and
// records it in one transaction. A store newer than this program is refused.
bool run_migrations(int at, const std::function<bool(int v, std::string& why)>& apply,
                    std::string& why);
// A stored event's body is the FlatBuffers wire::Event; decoding checks it against the
// sequence number it is stored under.
void encode_stored(flatbuffers::FlatBufferBuilder& b, const Event& e);
bool decode_stored(std::uint64_t seq, const std::uint8_t* data, std::size_t size, Event& out,
                   std::string& why);

class SqliteStore final : public EventStore {
  public:
    // Opens (creating and migrating as needed) the store at `path`; nothing, with the reason
    // in `why`, when it cannot be opened or is damaged.
    static std::unique_ptr<SqliteStore> open(const std::string& path, std::string& why,
                                             bool reader = false);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    AppendResult append(std::span<const Event> events) override;
    std::uint64_t last_seq() const override { return last_seq_; }
    int version() const override;
    bool scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
              std::string& why) const override;
    // flock(2) on the store file: independent of SQLite's own fcntl locks, so readers go on.
    bool claim_writer(std::string& why) override;
    bool web_log(UnitIdx unit, Instant since, std::size_t limit, std::vector<LogRow>& out,
                 std::string& why) const override;
    std::optional<std::size_t> purge_web_log(Instant cutoff, std::string& why) override;
    bool audit(PatientKey patient, Instant since, std::size_t limit, std::vector<Event>& out,
               std::string& why) const override;
    Instant last_time() const override { return last_time_; }

  private:
    SqliteStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    bool migrate(std::string& why);
    bool check(std::string& why);
    void read_last();

    sqlite3* db_;
    std::string path_;
    int writer_fd_ = -1;  // held open with the flock while this is the writer
    std::uint64_t last_seq_ = 0;
    Instant last_time_;
};

}  // namespace slotmatch::journal
