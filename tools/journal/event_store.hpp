// The contract of the journal's durable event log, kept by SQLite (sqlite_store.cpp) and by
// PostgreSQL (pg_store.cpp): one row per engine event, in sequence order, with the event itself
// as a FlatBuffers `wire::Event` and the columns the web booking log (web_log.hpp) and the
// access audit (access_audit.hpp) select on. A committed batch survives power loss; one batch
// is one transaction (group commit). The schema is versioned and migrated on open, from one
// list of migrations for both backends; a store that is damaged, or whose events do not
// verify, is refused with a message naming the damage.
//
// Sequence numbers are the journal's contract with the engine: a batch continues the log
// exactly. Events at or below the last committed number are duplicates (a resend after a lost
// acknowledgement) and are skipped; a batch that starts beyond the next number is a gap, which
// is refused whole and reported, because an event would be missing for good.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <slotmatch/events.hpp>
#include <span>
#include <string>
#include <vector>

#include "web_log.hpp"

namespace slotmatch::journal {

struct AppendResult {
    bool ok = false;
    std::uint64_t committed_through = 0;  // the highest sequence number now in the store
    std::size_t appended = 0;
    std::size_t duplicates = 0;      // skipped: already in the store
    std::uint64_t gap_expected = 0;  // set when refused for a gap: the number that is missing
    std::string error;               // why not ok (a gap, a full disk, a damaged store)
};

class EventStore {
  public:
    virtual ~EventStore() = default;
    // Appends `events` (ascending sequence numbers) in one transaction, with their web booking
    // log and audit entries.
    virtual AppendResult append(std::span<const Event> events) = 0;
    virtual std::uint64_t last_seq() const = 0;
    // The time of the last committed event (0 when there is none).
    virtual Instant last_time() const = 0;
    virtual int version() const = 0;
    // Every event with seq >= from, in order, until `visit` returns false. False with `why`
    // when a stored event does not verify (the store is damaged) or cannot be read.
    bool scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
              std::string& why) const;
    // Makes this the store's one writer for as long as it is open (slotmatchd --store and
    // slotmatch-journal claim it; readers need not): false, saying why, when another process
    // holds the claim, since two writers would number events over each other.
    virtual bool claim_writer(std::string& why) = 0;
    // The unit's log rows changed at or after `since`, by changed_at then seq, at most
    // `limit`; false with `why` when the store cannot be read.
    bool web_log(UnitIdx unit, Instant since, std::size_t limit, std::vector<LogRow>& out,
                 std::string& why) const;
    // Deletes the log rows changed before `cutoff` (R20); how many, or nothing with `why`.
    virtual std::optional<std::size_t> purge_web_log(Instant cutoff, std::string& why) = 0;
    // The events filed under `patient` at or after `since`, in sequence order, at most `limit`.
    bool audit(PatientKey patient, Instant since, std::size_t limit, std::vector<Event>& out,
               std::string& why) const;
    // What a check of every page found: no damage; damage (`why` says where); or nothing,
    // because it could not run to its end (a busy file, an I/O error, interrupt()).
    enum class PageCheck : std::uint8_t { sound, damaged, not_done };
    // SQLite's check of the whole file (PRAGMA quick_check, over every page: its time grows
    // with the history) for a store opened with WholeCheck::later. It is one read from its
    // start to its end, and while it lasts the checkpoints cannot reset the WAL, so it gives
    // way (not_done, saying so) once the WAL has grown by `wal_growth_max` bytes since it
    // began: under load the WAL would grow by every commit for minutes, and a start after
    // kill -9 reads the whole WAL first. PostgreSQL: nothing to do here (the server checks its
    // own pages).
    static constexpr std::uint64_t check_wal_growth_max = std::uint64_t{256} << 20;
    virtual PageCheck check_whole(std::string& why,
                                  std::uint64_t wal_growth_max = check_wal_growth_max) const {
        (void)why;
        (void)wal_growth_max;
        return PageCheck::sound;
    }
    // SQLite: the check of the web booking log's and audit's entries, the file beside the
    // store (PRAGMA quick_check), on a reader; a writer opened with WholeCheck::later leaves it
    // to this. Damaged ones are marked, and the writer's next open makes the entries again from
    // the events (they hold nothing else). PostgreSQL: nothing.
    virtual PageCheck check_entries(std::string& why) const {
        (void)why;
        return PageCheck::sound;
    }
    // From another thread: cuts the connection's running check (or query) short. A whole
    // check of a large store takes minutes, and a stop must not wait for it.
    virtual void interrupt() const {}
    // The appointment types the store records (entity_recorded), with the whole definition of
    // the ones added live: number_types_as_stored numbers a region file's types by them.
    bool recorded_types(std::vector<RecordedType>& out, std::string& why) const;

  protected:
    // The stored events a query names, for scan, web_log and audit above (the same meaning on
    // every backend; each writes its own SQL). A backend gives them to `visit` in the query's
    // order until it returns false; false with `why` when they cannot be read or one does not
    // verify (decode_stored).
    struct Query {
        enum class Kind : std::uint8_t {
            events_from,  // seq >= from_seq, by seq
            web_log,      // the log entries of `unit` changed at or after `since`, by time then seq
            audit,        // the events filed under `patient` at or after `since`, by seq
            entities,     // the entity_recorded events, by seq
        } kind = Kind::events_from;
        std::uint64_t from_seq = 0;
        UnitIdx unit;
        PatientKey patient;
        Instant since;
        std::size_t limit = 0;  // web_log and audit: at most this many
    };
    virtual bool select(const Query& query, const std::function<bool(const Event&)>& visit,
                        std::string& why) const = 0;
};

// When a writer's open checks the whole store: at once (the default), or later, by
// check_whole() and check_entries() (a start from a snapshot reads only the events after it,
// and must not wait for a check of every page: slotmatchd runs them in the background then).
enum class WholeCheck : std::uint8_t { at_open, later };
// "sqlite:PATH" or a libpq URI "postgresql://..."; nothing, with the reason in `why`, when the
// store cannot be opened, is damaged, or the address is neither.
std::unique_ptr<EventStore> open_store(const std::string& address, std::string& why,
                                       WholeCheck check = WholeCheck::at_open);
// A second connection to a store another connection writes (a reader for queries): no
// integrity check, no migration; refused when the store is not at schema_version.
std::unique_ptr<EventStore> open_reader(const std::string& address, std::string& why);
// The backends open_store chooses from. SQLite: WAL with synchronous=FULL, its own integrity
// check, flock(2) for the one writer. PostgreSQL: synchronous_commit=on, an advisory lock.
std::unique_ptr<EventStore> open_sqlite_store(const std::string& path, std::string& why,
                                              bool reader = false,
                                              WholeCheck check = WholeCheck::at_open);
std::unique_ptr<EventStore> open_pg_store(const std::string& uri, std::string& why,
                                          bool reader = false);

// Group commit by count: one transaction takes at most this many events (the embedded journal
// and slotmatch-journal alike). Under load the queue fills a transaction; a larger one costs
// less per event (slotmatch_store_bench, web bookings: 297-308 k events/s at 4,096, 372 k at
// 16,384), and by time a transaction starts as soon as the previous one has synced.
inline constexpr std::size_t commit_events_max = 16384;

inline constexpr const char* writer_taken =
    "another slotmatchd or slotmatch-journal is writing to this store (one writer per store)";

// ---- shared by the backends

// The schema, one version at a time: migrations[v] takes a store from version v to v + 1, in
// each backend's SQL. Both stores run the same list, so a new version cannot reach one and
// miss the other.
inline constexpr int schema_version = 6;
struct Migration {
    const char* sqlite;
    const char* postgresql;
};
extern const Migration migrations[schema_version];

// How a backend runs the migrations: `exec` runs SQL, `version` reads the newest row of
// schema_migrations (0 for none), `begin` opens a transaction that will write.
struct SchemaDialect {
    std::function<bool(const std::string& sql, const std::string& doing, std::string& why)> exec;
    std::function<int()> version;
    const char* begin;
    const char* migrations_table;  // CREATE TABLE IF NOT EXISTS schema_migrations (...)
    bool postgresql = false;       // which text of each Migration
};
// Brings a store to schema_version: each missing migration runs in its own transaction with
// its row in schema_migrations. A store newer than this program is refused.
bool migrate(const SchemaDialect& dialect, std::string& why);
// A reader opens a store its writer has migrated: false, saying why, when `version` is another.
bool schema_is_current(int version, std::string& why);

// The events of a batch that are new, after the `duplicates` (at or below last_seq) it skips;
// nothing, with the gap in `r`, when they do not continue from last_seq exactly.
std::optional<std::span<const Event>> new_events(std::span<const Event> events,
                                                 std::uint64_t last_seq, AppendResult& r);
// After a commit of `fresh` (the events new_events let through): what the store now holds.
void committed(std::span<const Event> fresh, std::uint64_t& last_seq, Instant& last_time,
               AppendResult& r);
// A stored event's body is the FlatBuffers wire::Event; decoding checks it against the
// sequence number it is stored under. A settings change comes with its config in `configs`.
void encode_stored(flatbuffers::FlatBufferBuilder& b, const Event& e);
bool decode_stored(std::uint64_t seq, const std::uint8_t* data, std::size_t size, Event& out,
                   std::string& why, ConfigArena* configs = nullptr);

}  // namespace slotmatch::journal
