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

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <slotmatch/events.hpp>
#include <span>
#include <string>

struct sqlite3;

namespace slotmatch::journal {

inline constexpr int schema_version = 1;

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
};

inline constexpr const char* writer_taken =
    "another slotmatchd or slotmatch-journal is writing to this store (one writer per store)";

// "sqlite:PATH" or a libpq URI "postgresql://..."; nothing, with the reason in `why`, when the
// store cannot be opened, is damaged, or the address is neither.
std::unique_ptr<EventStore> open_store(const std::string& address, std::string& why);

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
    static std::unique_ptr<SqliteStore> open(const std::string& path, std::string& why);
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

  private:
    SqliteStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    bool migrate(std::string& why);
    bool check(std::string& why);

    sqlite3* db_;
    std::string path_;
    int writer_fd_ = -1;  // held open with the flock while this is the writer
    std::uint64_t last_seq_ = 0;
};

}  // namespace slotmatch::journal
