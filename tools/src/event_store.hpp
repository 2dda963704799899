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

#include <cstdint>
#include <functional>
#include <memory>
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

class SqliteStore {
  public:
    // Opens (creating and migrating as needed) the store at `path`; nothing, with the reason
    // in `why`, when it cannot be opened or is damaged.
    static std::unique_ptr<SqliteStore> open(const std::string& path, std::string& why);
    ~SqliteStore();
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    // Appends `events` (ascending sequence numbers) in one transaction.
    AppendResult append(std::span<const Event> events);
    std::uint64_t last_seq() const { return last_seq_; }
    int version() const;

    // Every event with seq >= from, in order, until `visit` returns false. False with `why`
    // when a stored event does not verify (the store is damaged).
    bool scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
              std::string& why) const;

  private:
    explicit SqliteStore(sqlite3* db) : db_(db) {}
    bool migrate(std::string& why);
    bool check(std::string& why);

    sqlite3* db_;
    std::uint64_t last_seq_ = 0;
};

}  // namespace slotmatch::journal
