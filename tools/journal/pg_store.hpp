// The journal's event store in PostgreSQL (libpq): the same contract as the SQLite store
// (event_store.hpp) on a server, with synchronous_commit=on so a committed batch is on the
// server's disk, one transaction per batch written as multi-row INSERTs, and the same
// versioned migrations.
#pragma once

#include "event_store.hpp"

struct pg_conn;

namespace slotmatch::journal {

class PgStore final : public EventStore {
  public:
    // `uri`: a libpq connection URI (postgresql://user@host:port/db).
    // `reader`: a second connection for queries (no migration; the schema must be current).
    static std::unique_ptr<PgStore> open(const std::string& uri, std::string& why,
                                         bool reader = false);
    ~PgStore() override;
    PgStore(const PgStore&) = delete;
    PgStore& operator=(const PgStore&) = delete;

    AppendResult append(std::span<const Event> events) override;
    std::uint64_t last_seq() const override { return last_seq_; }
    int version() const override;
    bool scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
              std::string& why) const override;
    // A session-level advisory lock (pg_try_advisory_lock), taken again after a reconnect.
    bool claim_writer(std::string& why) override;
    bool web_log(UnitIdx unit, Instant since, std::size_t limit, std::vector<LogRow>& out,
                 std::string& why) const override;
    std::optional<std::size_t> purge_web_log(Instant cutoff, std::string& why) override;
    bool audit(PatientKey patient, Instant since, std::size_t limit, std::vector<Event>& out,
               std::string& why) const override;
    Instant last_time() const override { return last_time_; }

  private:
    explicit PgStore(pg_conn* db) : db_(db) {}
    bool migrate(std::string& why);
    void read_last();
    bool insert_log_rows(std::span<const Event> events, std::string& why);
    bool insert_audit_rows(std::span<const Event> events, std::string& why);
    bool insert_rows(const char* table, const std::vector<std::string>& params, const char* doing,
                     std::string& why);

    pg_conn* db_;
    bool writer_ = false;
    std::uint64_t last_seq_ = 0;
    Instant last_time_;
};

}  // namespace slotmatch::journal
