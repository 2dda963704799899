// The event store in PostgreSQL (libpq): the store contract (event_store.hpp) on a server, with
// synchronous_commit=on so a committed batch is on the server's disk, one transaction per batch
// written as multi-row INSERTs, and a session-level advisory lock for the one writer.
#include <endian.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <slotmatch/assert.hpp>
#include <vector>

#include "access_audit.hpp"
#include "event_store.hpp"
#include "snapshot.hpp"

namespace slotmatch::journal {

namespace {

// Rows per INSERT statement: within libpq's 65,535 parameters (asserted where they are bound).
constexpr std::size_t rows_per_insert = 1000;
constexpr std::size_t scan_rows_per_query = 10'000;

// A result that clears itself.
class Result {
  public:
    explicit Result(PGresult* r) : r_(r) {}
    ~Result() { PQclear(r_); }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    PGresult* get() const { return r_; }
    bool ok() const {
        const auto s = PQresultStatus(r_);
        return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    }

  private:
    PGresult* r_;
};

std::string pg_error(pg_conn* db, const std::string& doing) {
    std::string why = doing + ": " + PQerrorMessage(db);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (why.find("No space left") != std::string::npos) why += " (the disk is full)";
    return why;
}

bool exec(pg_conn* db, const std::string& sql, const std::string& doing, std::string& why) {
    Result r(PQexec(db, sql.c_str()));
    if (r.ok()) return true;
    why = pg_error(db, doing);
    return false;
}

std::int64_t query_int(pg_conn* db, const char* sql) {
    Result r(PQexec(db, sql));
    if (!r.ok() || PQntuples(r.get()) != 1 || PQgetisnull(r.get(), 0, 0)) return 0;
    return std::stoll(PQgetvalue(r.get(), 0, 0));
}

std::uint64_t binary_int8(const char* p) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return be64toh(v);
}

// The advisory lock's key: one writer per database.
constexpr const char* writer_lock_sql = "SELECT pg_try_advisory_lock(7291541336710144001)::int";
constexpr const char* session_settings =
    "SET synchronous_commit = on; SET statement_timeout = '30s'";

// The events a SELECT of (seq, body) rows finds, with $1, $2, ... bound to `params`, each
// decoded and given to `visit` until it returns false. `rows` counts the rows seen; false, with
// `why` naming `doing`, when they cannot be read or an event is damaged.
bool each_event(pg_conn* db, const char* sql, const std::vector<std::string>& params,
                const char* doing, const std::function<bool(const Event&)>& visit,
                std::size_t& rows, std::string& why) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    Result result(PQexecParams(db, sql, static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 1));
    if (!result.ok()) {
        why = pg_error(db, doing);
        return false;
    }
    PGresult* r = result.get();
    rows = static_cast<std::size_t>(PQntuples(r));
    for (int i = 0; i < PQntuples(r); ++i) {
        const std::uint64_t seq = binary_int8(PQgetvalue(r, i, 0));
        const auto* data = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r, i, 1));
        const auto size = static_cast<std::size_t>(PQgetlength(r, i, 1));
        Event e;
        ConfigArena config;  // a settings change's, for as long as `visit` looks at the event
        if (!decode_stored(seq, data, size, e, why, &config)) return false;
        if (!visit(e)) {
            rows = 0;  // stopped: no more pages
            return true;
        }
    }
    return true;
}

// A reader whose server went away tries once to come back before each query.
void reconnect_if_lost(pg_conn* db) {
    if (PQstatus(db) == CONNECTION_OK) return;
    PQreset(db);
    std::string ignored;
    if (PQstatus(db) == CONNECTION_OK) exec(db, "SET statement_timeout = '30s'", "", ignored);
}

// One multi-row INSERT of events: their seven number columns as text, their bodies binary.
class EventsInsert {
  public:
    bool run(pg_conn* db, std::span<const Event> events, std::string& why) {
        SM_ASSERT(!events.empty() && events.size() <= rows_per_insert);
        std::string sql =
            "INSERT INTO events (seq, time, kind, channel, unit, patient, booking, body) VALUES ";
        text_.clear();
        bodies_.clear();
        for (std::size_t i = 0; i < events.size(); ++i) {
            // Appended piece by piece: g++ 12 at -O3 warns (-Wrestrict) on a chain of
            // temporaries here.
            sql.append(i ? ",(" : "(");
            for (std::size_t k = 1; k <= columns; ++k) {
                sql.push_back('$');
                sql.append(std::to_string(columns * i + k));
                sql.push_back(k < columns ? ',' : ')');
            }
            add(events[i]);
        }
        values_.clear();
        lengths_.clear();
        formats_.clear();
        for (std::size_t i = 0; i < events.size(); ++i) {
            for (std::size_t k = 0; k + 1 < columns; ++k) param(text_[(columns - 1) * i + k], 0);
            param(bodies_[i], 1);
        }
        Result ins(PQexecParams(db, sql.c_str(), static_cast<int>(values_.size()), nullptr,
                                values_.data(), lengths_.data(), formats_.data(), 0));
        if (ins.ok()) return true;
        why = pg_error(db, "storing events " + std::to_string(events.front().seq) + ".." +
                               std::to_string(events.back().seq));
        return false;
    }

  private:
    static constexpr std::size_t columns = 8;
    static_assert(columns * rows_per_insert <= 65'535, "libpq's parameters per statement");
    void add(const Event& e) {
        text_.push_back(std::to_string(e.seq));
        text_.push_back(std::to_string(e.time.value));
        text_.push_back(std::to_string(static_cast<int>(e.kind)));
        text_.push_back(std::to_string(static_cast<int>(e.channel)));
        text_.push_back(std::to_string(e.unit.value));
        text_.push_back(std::to_string(e.patient.value));
        text_.push_back(std::to_string(e.booking.value));
        encode_stored(body_, e);
        bodies_.emplace_back(reinterpret_cast<const char*>(body_.GetBufferPointer()),
                             body_.GetSize());
    }
    void param(const std::string& v, int format) {  // format 0: text (length ignored), 1: binary
        values_.push_back(v.data());
        lengths_.push_back(format ? static_cast<int>(v.size()) : 0);
        formats_.push_back(format);
    }
    flatbuffers::FlatBufferBuilder body_{1024};
    std::vector<std::string> text_;    // the integer parameters, as text
    std::vector<std::string> bodies_;  // the bodies, binary
    std::vector<const char*> values_;
    std::vector<int> lengths_, formats_;
};

class PgStore final : public EventStore {
  public:
    explicit PgStore(pg_conn* db) : db_(db) {}
    ~PgStore() override { PQfinish(db_); }
    PgStore(const PgStore&) = delete;
    PgStore& operator=(const PgStore&) = delete;

    // `reader`: a second connection for queries (no migration; the schema must be current).
    bool open(bool reader, std::string& why);

    AppendResult append(std::span<const Event> events) override;
    std::uint64_t last_seq() const override { return last_seq_; }
    Instant last_time() const override { return last_time_; }
    int version() const override {
        return static_cast<int>(
            query_int(db_, "SELECT COALESCE(max(version), 0) FROM schema_migrations"));
    }
    // A session-level advisory lock (pg_try_advisory_lock), taken again after a reconnect.
    bool claim_writer(std::string& why) override;
    std::optional<std::size_t> purge_web_log(Instant cutoff, std::string& why) override;

  private:
    bool select(const Query& q, const std::function<bool(const Event&)>& visit,
                std::string& why) const override;
    void read_last();
    // After the server went away: connects again (once), with the writer's claim.
    bool reconnect(AppendResult& r);
    bool insert_log_rows(std::span<const Event> events, std::string& why);
    bool insert_audit_rows(std::span<const Event> events, std::string& why);
    bool insert_rows(const char* table, const std::vector<std::string>& params, const char* doing,
                     std::string& why);

    pg_conn* db_;
    bool writer_ = false;
    // Another writer stored events while this one's session was gone: it never writes again
    // (a standby took over; docs/operations.md).
    std::string fenced_;
    std::uint64_t last_seq_ = 0;
    Instant last_time_;
    EventsInsert insert_;
};

bool PgStore::open(bool reader, std::string& why) {
    // A commit returns once the server has it on disk (the persisted mode's promise).
    if (!exec(db_, session_settings, "setting synchronous_commit", why)) return false;
    if (reader) {
        if (!schema_is_current(version(), why)) return false;
    } else {
        const SchemaDialect postgresql{
            [&](const std::string& sql, const std::string& doing, std::string& failure) {
                return exec(db_, sql, doing, failure);
            },
            [&] { return version(); }, "BEGIN",
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            true};
        if (!migrate(postgresql, why)) return false;
    }
    read_last();
    return true;
}

void PgStore::read_last() {
    last_seq_ =
        static_cast<std::uint64_t>(query_int(db_, "SELECT COALESCE(max(seq), 0) FROM events"));
    last_time_ = Instant{
        query_int(db_, "SELECT COALESCE((SELECT time FROM events ORDER BY seq DESC LIMIT 1), 0)")};
}

bool PgStore::claim_writer(std::string& why) {
    if (query_int(db_, writer_lock_sql) != 1) {
        why = writer_taken;
        return false;
    }
    writer_ = true;
    read_last();  // another writer may have committed between open() and the claim (a standby)
    return true;
}

bool PgStore::reconnect(AppendResult& r) {
    PQreset(db_);
    std::string ignored;
    r.committed_through = last_seq_;
    if (PQstatus(db_) != CONNECTION_OK || !exec(db_, session_settings, "", ignored)) {
        r.error = pg_error(db_, "reconnecting to the store");
        return false;
    }
    // The claim went with the old session; another writer may hold it now, or may have held
    // it and written meanwhile: then this one's numbering no longer continues the store's, and
    // an event of the same number there is another's, not this one's to skip.
    if (writer_ && query_int(db_, writer_lock_sql) != 1) {
        r.error = std::string("after reconnecting: ") + writer_taken;
        return false;
    }
    const std::uint64_t mine = last_seq_;
    read_last();
    if (writer_ && last_seq_ != mine) {
        fenced_ = "fenced: another writer stored events " + std::to_string(mine + 1) + ".." +
                  std::to_string(last_seq_) +
                  " while this one's connection was gone; this one stores nothing more";
        last_seq_ = mine;
        r.error = fenced_;
        return false;
    }
    return true;
}

AppendResult PgStore::append(std::span<const Event> events) {
    AppendResult r;
    if (!fenced_.empty()) {
        r.committed_through = last_seq_;
        r.error = fenced_;
        return r;
    }
    if (PQstatus(db_) != CONNECTION_OK && !reconnect(r)) return r;
    const auto fresh = new_events(events, last_seq_, r);
    if (!fresh) return r;
    std::string why;
    if (!exec(db_, "BEGIN", "starting a batch", why)) {
        r.error = why;
        return r;
    }
    for (std::size_t first = 0; first < fresh->size(); first += rows_per_insert) {
        const std::size_t n = std::min(rows_per_insert, fresh->size() - first);
        if (!insert_.run(db_, fresh->subspan(first, n), r.error)) {
            exec(db_, "ROLLBACK", "", why);
            return r;
        }
    }
    if (!insert_log_rows(*fresh, r.error) || !insert_audit_rows(*fresh, r.error)) {
        exec(db_, "ROLLBACK", "", why);
        return r;
    }
    if (!exec(db_, "COMMIT", "committing a batch", why)) {
        r.error = why;
        // A COMMIT whose answer was lost may have landed: what is durable is what the server
        // says, read again when the connection is back.
        if (PQstatus(db_) == CONNECTION_OK) read_last();
        r.committed_through = last_seq_;
        return r;
    }
    committed(*fresh, last_seq_, last_time_, r);
    return r;
}

bool PgStore::select(const Query& q, const std::function<bool(const Event&)>& visit,
                     std::string& why) const {
    std::size_t rows = 0;
    switch (q.kind) {
        case Query::Kind::events_from:
            // In pages, so a long log is never one result in memory.
            for (std::uint64_t next = q.from_seq;;) {
                const bool read = each_event(
                    db_, "SELECT seq, body FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2",
                    {std::to_string(next), std::to_string(scan_rows_per_query)}, "reading events",
                    [&](const Event& e) {
                        next = e.seq + 1;
                        return visit(e);
                    },
                    rows, why);
                if (!read) return false;
                if (rows < scan_rows_per_query) return true;
            }
        case Query::Kind::web_log:
            reconnect_if_lost(db_);
            return each_event(
                db_,
                "SELECT w.seq, e.body FROM web_log w JOIN events e ON e.seq = w.seq"
                " WHERE w.unit = $1 AND w.changed_at >= $2 ORDER BY w.changed_at, w.seq LIMIT $3",
                {std::to_string(q.unit.value), std::to_string(q.since.value),
                 std::to_string(q.limit)},
                "reading the web booking log", visit, rows, why);
        case Query::Kind::audit:
            reconnect_if_lost(db_);
            return each_event(
                db_,
                "SELECT a.seq, e.body FROM audit a JOIN events e ON e.seq = a.seq"
                " WHERE a.bucket = $1 AND a.patient = $2 AND e.time >= $3"
                " ORDER BY a.seq LIMIT $4",
                {std::to_string(q.patient.value % audit_buckets), std::to_string(q.patient.value),
                 std::to_string(q.since.value), std::to_string(q.limit)},
                "reading the audit", visit, rows, why);
        case Query::Kind::entities:
            reconnect_if_lost(db_);
            return each_event(db_, "SELECT seq, body FROM events WHERE kind = 16 ORDER BY seq", {},
                              "reading the catalog entities", visit, rows, why);
    }
    SM_ASSERT(false && "a query of each kind");
    return false;
}

// The web booking log entries of a batch's events (inside the batch's transaction):
// multi-row INSERTs of the web changes only, so a batch without any costs nothing here.
bool PgStore::insert_log_rows(std::span<const Event> events, std::string& why) {
    std::vector<std::string> params;
    for (const Event& e : events) {
        if (!makes_log_row(e)) continue;
        params.push_back(std::to_string(e.unit.value));
        params.push_back(std::to_string(e.time.value));
        params.push_back(std::to_string(e.seq));
    }
    return insert_rows("web_log", params, "storing web booking log entries", why);
}

bool PgStore::insert_audit_rows(std::span<const Event> events, std::string& why) {
    std::vector<std::string> params;
    for (const Event& e : events) {
        const PatientKey p = audit_patient(e);
        if (p.value == 0) continue;
        params.push_back(std::to_string(p.value % audit_buckets));
        params.push_back(std::to_string(e.seq));
        params.push_back(std::to_string(p.value));
    }
    return insert_rows("audit", params, "storing audit entries", why);
}

// Rows of three values each (`params` in row order), rows_per_insert to a statement.
bool PgStore::insert_rows(const char* table, const std::vector<std::string>& params,
                          const char* doing, std::string& why) {
    SM_ASSERT(params.size() % 3 == 0);
    const std::size_t rows = params.size() / 3;
    for (std::size_t first = 0; first < rows; first += rows_per_insert) {
        const std::size_t n = std::min(rows_per_insert, rows - first);
        std::string sql = std::string("INSERT INTO ") + table + " VALUES ";
        std::vector<const char*> values;
        for (std::size_t i = 0; i < n; ++i) {
            sql.append(i ? ",(" : "(");
            for (std::size_t k = 1; k <= 3; ++k) {
                sql.push_back('$');
                sql.append(std::to_string(3 * i + k));
                sql.push_back(k < 3 ? ',' : ')');
                values.push_back(params[3 * (first + i) + k - 1].c_str());
            }
        }
        Result ins(PQexecParams(db_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, 0));
        if (!ins.ok()) {
            why = pg_error(db_, doing);
            return false;
        }
    }
    return true;
}

std::optional<std::size_t> PgStore::purge_web_log(Instant cutoff, std::string& why) {
    const std::string c = std::to_string(cutoff.value);
    const char* params[] = {c.c_str()};
    Result r(PQexecParams(db_, "DELETE FROM web_log WHERE changed_at < $1", 1, nullptr, params,
                          nullptr, nullptr, 0));
    if (!r.ok()) {
        why = pg_error(db_, "purging the web booking log");
        return std::nullopt;
    }
    return static_cast<std::size_t>(std::stoull(PQcmdTuples(r.get())));
}

}  // namespace

namespace {

// A server that does not answer must not hang the journal (or a stop) for ever.
std::string with_timeouts(const std::string& given) {
    std::string uri = given;
    if (uri.find("connect_timeout=") == std::string::npos) {
        uri += (uri.find('?') == std::string::npos ? "?" : "&");
        uri += "connect_timeout=10&keepalives=1";
    }
    return uri;
}

// Snapshots in the database (schema 6): a snapshot's bytes in parts of part_bytes, then its
// row, in one transaction; the older ones beyond `keep` deleted in the same transaction.
class PgShelf final : public SnapshotShelf {
  public:
    explicit PgShelf(pg_conn* db) : db_(db) {}
    ~PgShelf() override { PQfinish(db_); }
    PgShelf(const PgShelf&) = delete;
    PgShelf& operator=(const PgShelf&) = delete;

    std::vector<std::uint64_t> seqs() const override {
        std::vector<std::uint64_t> out;
        reconnect_if_lost(db_);
        Result r(PQexec(db_, "SELECT seq FROM snapshots ORDER BY seq DESC"));
        if (!r.ok()) return out;
        for (int i = 0; i < PQntuples(r.get()); ++i) {
            out.push_back(std::stoull(PQgetvalue(r.get(), i, 0)));
        }
        return out;
    }
    bool get(std::uint64_t seq, std::string& bytes, std::string& why) const override {
        reconnect_if_lost(db_);
        const std::string n = std::to_string(seq);
        const char* params[] = {n.c_str()};
        Result head(PQexecParams(db_, "SELECT parts, bytes FROM snapshots WHERE seq = $1", 1,
                                 nullptr, params, nullptr, nullptr, 0));
        if (!head.ok() || PQntuples(head.get()) != 1) {
            why = head.ok() ? "it is not in the database" : pg_error(db_, "reading it");
            return false;
        }
        const long parts = std::stol(PQgetvalue(head.get(), 0, 0));
        const auto size = static_cast<std::size_t>(std::stoull(PQgetvalue(head.get(), 0, 1)));
        bytes.clear();
        bytes.reserve(size);
        for (long part = 0; part < parts; ++part) {  // one part at a time: bounded memory
            const std::string k = std::to_string(part);
            const char* key[] = {n.c_str(), k.c_str()};
            Result r(PQexecParams(db_,
                                  "SELECT body FROM snapshot_parts WHERE seq = $1 AND part = $2",
                                  2, nullptr, key, nullptr, nullptr, 1));
            if (!r.ok() || PQntuples(r.get()) != 1) {
                why = r.ok() ? "its part " + k + " is missing" : pg_error(db_, "reading it");
                return false;
            }
            bytes.append(PQgetvalue(r.get(), 0, 0),
                         static_cast<std::size_t>(PQgetlength(r.get(), 0, 0)));
        }
        if (bytes.size() != size) {
            why = "its parts hold " + std::to_string(bytes.size()) + " bytes of " +
                  std::to_string(size);
            return false;
        }
        return true;
    }
    bool put(std::uint64_t seq, const std::string& bytes, std::size_t keep,
             std::string& why) const override {
        reconnect_if_lost(db_);
        if (!exec(db_, "BEGIN", "storing a snapshot", why)) return false;
        const auto fail = [&](const std::string& doing) {
            why = pg_error(db_, doing);
            std::string ignored;
            exec(db_, "ROLLBACK", "", ignored);
            return false;
        };
        const std::string n = std::to_string(seq);
        for (const char* sql : {"DELETE FROM snapshot_parts WHERE seq = $1",
                                "DELETE FROM snapshots WHERE seq = $1"}) {
            const char* params[] = {n.c_str()};
            Result r(PQexecParams(db_, sql, 1, nullptr, params, nullptr, nullptr, 0));
            if (!r.ok()) return fail("storing a snapshot");
        }
        long parts = 0;
        std::size_t at = 0;
        do {  // one part at least: an empty snapshot has one empty part
            const std::string k = std::to_string(parts);
            const std::size_t size = std::min(part_bytes, bytes.size() - at);
            const char* values[] = {n.c_str(), k.c_str(), bytes.data() + at};
            const int lengths[] = {0, 0, static_cast<int>(size)};
            const int formats[] = {0, 0, 1};
            Result r(PQexecParams(db_,
                                  "INSERT INTO snapshot_parts (seq, part, body) VALUES ($1, $2, $3)",
                                  3, nullptr, values, lengths, formats, 0));
            if (!r.ok()) return fail("storing a snapshot's part " + k);
            at += size;
            ++parts;
        } while (at < bytes.size());
        const std::string p = std::to_string(parts), b = std::to_string(bytes.size());
        const char* row[] = {n.c_str(), p.c_str(), b.c_str()};
        Result r(PQexecParams(db_, "INSERT INTO snapshots (seq, parts, bytes) VALUES ($1, $2, $3)",
                              3, nullptr, row, nullptr, nullptr, 0));
        if (!r.ok()) return fail("storing a snapshot");
        // The older ones beyond the newest `keep`.
        const std::string k = std::to_string(keep);
        const char* keep_param[] = {k.c_str()};
        for (const char* sql :
             {"DELETE FROM snapshot_parts WHERE seq NOT IN "
              "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)",
              "DELETE FROM snapshots WHERE seq NOT IN "
              "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)"}) {
            Result d(PQexecParams(db_, sql, 1, nullptr, keep_param, nullptr, nullptr, 0));
            if (!d.ok()) return fail("removing older snapshots");
        }
        return exec(db_, "COMMIT", "storing a snapshot", why);
    }
    std::string where(std::uint64_t seq) const override {
        return "row " + std::to_string(seq) + " of the snapshots table";
    }

  private:
    static constexpr std::size_t part_bytes = std::size_t{64} << 20;
    pg_conn* db_;
};

}  // namespace

std::unique_ptr<SnapshotShelf> open_pg_shelf(const std::string& given, std::string& why) {
    const std::string uri = with_timeouts(given);
    pg_conn* db = PQconnectdb(uri.c_str());
    if (db == nullptr || PQstatus(db) != CONNECTION_OK) {
        why = pg_error(db, "cannot connect to " + uri);
        PQfinish(db);
        return nullptr;
    }
    std::string ignored;
    exec(db, session_settings, "", ignored);
    return std::make_unique<PgShelf>(db);
}

std::unique_ptr<EventStore> open_pg_store(const std::string& given, std::string& why, bool reader) {
    const std::string uri = with_timeouts(given);
    pg_conn* db = PQconnectdb(uri.c_str());
    if (db == nullptr || PQstatus(db) != CONNECTION_OK) {
        why = pg_error(db, "cannot connect to " + uri);
        PQfinish(db);
        return nullptr;
    }
    auto store = std::make_unique<PgStore>(db);
    if (!store->open(reader, why)) {
        why = uri + ": " + why;
        return nullptr;
    }
    return store;
}

}  // namespace slotmatch::journal
