#include "event_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <slotmatch/codec.hpp>

#include "pg_store.hpp"

namespace slotmatch::journal {

namespace {

// Versioned migrations: migrations[i] takes the schema from version i to i + 1. Applied in
// order, each in its own transaction together with its row in schema_migrations.
constexpr const char* migrations[] = {
    // 1: the event log, appended in sequence order (the rowid), with the columns the web
    // booking log and the access audit will select on. Their indexes come with those features:
    // a secondary index on random keys costs more than the rest of an insert (perf,
    // slotmatch_store_bench, batches of 4,096: 193 k events/s with the two, 718 k without).
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  channel INTEGER NOT NULL,"
    "  unit INTEGER NOT NULL,"
    "  patient INTEGER NOT NULL,"
    "  booking INTEGER NOT NULL,"
    "  body BLOB NOT NULL);",
    // 2: the web booking log (R19-R23): one entry per web booking, rebooking and cancellation,
    // written with its event and purged after 31 days (R20). An entry is the key alone: the
    // row's values are read from the event it names (web_log_row), which is never deleted.
    // One B-tree, in log_buckets time-ordered runs by unit (bucket = unit mod 64): a batch's
    // entries land at the ends of at most 64 runs, where a tree by unit took them into one
    // place per unit (1,200 in the bench) and a full-column table with indexes cost more still
    // (bench/README.md); a unit's log reads its run's rows of the window. Other events pay
    // nothing.
    "CREATE TABLE web_log ("
    "  bucket INTEGER NOT NULL,"
    "  changed_at INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  unit INTEGER NOT NULL,"
    "  PRIMARY KEY (bucket, changed_at, seq)) WITHOUT ROWID;"
    // Events stored before this schema get their entries too (the columns say which).
    "INSERT INTO web_log SELECT unit % 64, time, seq, unit FROM events"
    "  WHERE channel = 0 AND kind IN (7, 8, 9);",
    // 3: the access audit (Patientdatalagen): each event that touched a patient, filed under
    // the patient's bucket in sequence order (see audit_buckets); the values are the event's.
    "CREATE TABLE audit ("
    "  bucket INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  patient INTEGER NOT NULL,"
    "  PRIMARY KEY (bucket, seq)) WITHOUT ROWID;"
    "INSERT INTO audit SELECT patient % 64, seq, patient FROM events"
    "  WHERE patient != 0 AND kind IN (5, 7, 8, 9, 10, 11, 12);",
};
static_assert(std::size(migrations) == schema_version, "one migration per schema version");

std::string sqlite_error(sqlite3* db, const std::string& doing) {
    const int code = sqlite3_errcode(db);
    std::string why = doing + ": " + sqlite3_errmsg(db);
    if (code == SQLITE_FULL) why += " (the disk is full)";
    if (code == SQLITE_NOTADB) why += " (not a slotmatch store, or its header is damaged)";
    if (code == SQLITE_CORRUPT) why += " (the store is damaged)";
    return why;
}

bool exec(sqlite3* db, const char* sql, const std::string& doing, std::string& why) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK) return true;
    why = sqlite_error(db, doing);
    return false;
}

// A prepared statement that finalises itself.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    sqlite3_stmt* get() const { return stmt_; }
    explicit operator bool() const { return stmt_ != nullptr; }

  private:
    sqlite3_stmt* stmt_ = nullptr;
};

// One text value from a single-row query, or "" when there is none.
std::string query_text(sqlite3* db, const char* sql) {
    Statement s(db, sql);
    if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return {};
    const unsigned char* text = sqlite3_column_text(s.get(), 0);
    return text ? reinterpret_cast<const char*>(text) : "";
}

std::int64_t query_int(sqlite3* db, const char* sql) {
    Statement s(db, sql);
    if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return 0;
    return sqlite3_column_int64(s.get(), 0);
}

std::int64_t as_sql(std::uint64_t v) {
    return static_cast<std::int64_t>(v);
}

// An entry of the web booking log (bucket, changed_at, seq, unit) or of the audit (bucket,
// seq, patient): the columns of its table, key first.
struct Entry {
    std::int64_t column[4];
    auto operator<=>(const Entry&) const = default;
};

// Inserts a batch's entries in key order, so each lands next to the one before it (fewer
// pages visited than in event order), 64 rows a statement (fewer steps); inside the caller's
// transaction.
bool insert_entries(sqlite3* db, const char* table, int columns, std::vector<Entry>& entries,
                    std::string& why) {
    if (entries.empty()) return true;
    std::sort(entries.begin(), entries.end());
    constexpr std::size_t rows_per_statement = 64;
    const std::string row = columns == 3 ? "(?,?,?)" : "(?,?,?,?)";
    std::string many = std::string("INSERT INTO ") + table + " VALUES " + row;
    for (std::size_t i = 1; i < rows_per_statement; ++i) many += "," + row;
    const std::string one = std::string("INSERT INTO ") + table + " VALUES " + row;
    Statement insert_many(db, many.c_str());
    Statement insert_one(db, one.c_str());
    if (!insert_many || !insert_one) {
        why = sqlite_error(db, std::string("preparing the ") + table + " insert");
        return false;
    }
    std::size_t at = 0;
    while (at < entries.size()) {
        const bool full = entries.size() - at >= rows_per_statement;
        sqlite3_stmt* s = full ? insert_many.get() : insert_one.get();
        const std::size_t n = full ? rows_per_statement : 1;
        for (std::size_t r = 0; r < n; ++r) {
            for (int i = 0; i < columns; ++i) {
                sqlite3_bind_int64(s, static_cast<int>(r) * columns + i + 1,
                                   entries[at + r].column[i]);
            }
        }
        if (sqlite3_step(s) != SQLITE_DONE) {
            why = sqlite_error(db, std::string("storing ") + table + " entries");
            return false;
        }
        sqlite3_reset(s);
        at += n;
    }
    return true;
}

}  // namespace

std::string_view to_string(LogStatus s) {
    switch (s) {
        case LogStatus::booked:
            return "Booked";
        case LogStatus::rebooked:
            return "Rebooked";
        case LogStatus::cancelled:
            return "Cancelled";
    }
    return "?";
}

namespace {

LogValues values_of(const Event& e, const SlotSnapshot& side, BookingId booking) {
    LogValues v;
    v.slot = side.slot;
    v.resource = e.resource;  // R16: a web rebooking stays on the resource
    v.type = side.type;
    v.start = side.start;
    v.booking = booking;
    v.phone = std::string(e.phone.view());
    v.reason = std::string(e.reason.view());
    return v;
}

}  // namespace

bool makes_log_row(const Event& e) {
    return e.channel == Channel::web &&  // R19: the citizen's own changes
           (e.kind == EventKind::booked || e.kind == EventKind::rebooked ||
            e.kind == EventKind::cancelled);
}

std::optional<LogRow> web_log_row(const Event& e) {
    if (!makes_log_row(e)) return std::nullopt;
    LogRow row;
    switch (e.kind) {
        case EventKind::booked:
            row.status = LogStatus::booked;
            row.after = values_of(e, e.after, e.booking);
            break;
        case EventKind::rebooked:
            row.status = LogStatus::rebooked;
            row.before = values_of(e, e.before, e.before.booking);
            row.after = values_of(e, e.after, e.booking);
            break;
        case EventKind::cancelled:
            row.status = LogStatus::cancelled;
            row.before = values_of(e, e.before, e.booking);
            break;
        default:
            return std::nullopt;
    }
    row.seq = e.seq;
    row.unit = e.unit;
    row.changed_at = e.time;
    row.changed_by = std::string(web_system_identity);  // R17
    row.patient = e.patient;
    row.billable = e.billable;  // R23
    return row;
}

bool add_log_row(const Event& e, std::vector<LogRow>& out, std::string& why) {
    auto row = web_log_row(e);
    if (!row) {
        why = "event " + std::to_string(e.seq) + " is in the web booking log but is no web change";
        return false;
    }
    out.push_back(std::move(*row));
    return true;
}

PatientKey audit_patient(const Event& e) {
    switch (e.kind) {
        case EventKind::booked:
        case EventKind::rebooked:
        case EventKind::cancelled:
        case EventKind::held:
        case EventKind::waitlist_added:
        case EventKind::returned_to_waitlist:
        case EventKind::accessed:
            return e.patient;
        default:
            return PatientKey{};
    }
}

std::string_view audit_action(const Event& e) {
    switch (e.kind) {
        case EventKind::booked:
            return "book";
        case EventKind::rebooked:
            return "rebook";
        case EventKind::cancelled:
            return "cancel";
        case EventKind::held:
            return "hold";
        case EventKind::waitlist_added:
            return "waitlist_add";
        case EventKind::returned_to_waitlist:
            return "waitlist_return";
        case EventKind::accessed:
            return to_string(e.action);
        default:
            return to_string(e.kind);
    }
}

std::optional<Instant> LogPurgeSchedule::due(Instant now,
                                             std::chrono::steady_clock::time_point wall) {
    if (wall - checked_ < std::chrono::milliseconds(purge_check_ms)) return std::nullopt;
    checked_ = wall;
    const Instant cutoff{now.value - log_retention_s};
    if (last_cutoff_ && cutoff.value >= last_cutoff_->value &&
        cutoff.value - last_cutoff_->value < purge_step_s) {
        return std::nullopt;
    }
    if (last_cutoff_ && cutoff.value < last_cutoff_->value) {  // the clock went back
        last_cutoff_ = cutoff;
        return std::nullopt;
    }
    last_cutoff_ = cutoff;
    return cutoff;
}

void purge_if_due(EventStore& store, LogPurgeSchedule& schedule, Instant now, const char* who) {
    const auto cutoff = schedule.due(now, std::chrono::steady_clock::now());
    if (!cutoff) return;
    std::string why;
    if (!store.purge_web_log(*cutoff, why)) {
        std::cerr << who << ": purging the web booking log failed (retried): " << why << '\n';
        schedule.failed();
    }
}

std::unique_ptr<EventStore> open_store(const std::string& address, std::string& why) {
    if (address.rfind("sqlite:", 0) == 0 && address.size() > 7) {
        return SqliteStore::open(address.substr(7), why);
    }
    if (address.rfind("postgresql://", 0) == 0 || address.rfind("postgres://", 0) == 0) {
        return PgStore::open(address, why);
    }
    why = "a store is sqlite:PATH or postgresql://USER@HOST:PORT/DB, not " + address;
    return nullptr;
}

std::unique_ptr<EventStore> open_reader(const std::string& address, std::string& why) {
    if (address.rfind("sqlite:", 0) == 0 && address.size() > 7) {
        return SqliteStore::open(address.substr(7), why, true);
    }
    if (address.rfind("postgresql://", 0) == 0 || address.rfind("postgres://", 0) == 0) {
        return PgStore::open(address, why, true);
    }
    why = "a store is sqlite:PATH or postgresql://USER@HOST:PORT/DB, not " + address;
    return nullptr;
}

// A reader opens an existing store without checking or migrating it (the writer did), and
// may only read (query_only), so it can never take the writer's lock.
std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& path, std::string& why,
                                               bool reader) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (reader ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        why = "cannot open the store " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return nullptr;
    }
    std::unique_ptr<SqliteStore> store(new SqliteStore(db, path));
    sqlite3_busy_timeout(db, 5000);
    if (reader) {
        if (!exec(db, "PRAGMA query_only=1", "opening a reader", why)) return nullptr;
        if (store->version() != schema_version) {
            why = path + ": the store has schema version " + std::to_string(store->version()) +
                  ", not " + std::to_string(schema_version);
            return nullptr;
        }
    } else if (!store->check(why) || !store->migrate(why)) {
        why = path + ": " + why;
        return nullptr;
    }
    store->read_last();
    return store;
}

void SqliteStore::read_last() {
    last_seq_ = static_cast<std::uint64_t>(query_int(db_, "SELECT max(seq) FROM events"));
    last_time_ = Instant{query_int(db_, "SELECT time FROM events ORDER BY seq DESC LIMIT 1")};
}

SqliteStore::~SqliteStore() {
    sqlite3_close(db_);
    if (writer_fd_ >= 0) ::close(writer_fd_);  // releases the flock
}

bool SqliteStore::claim_writer(std::string& why) {
    if (writer_fd_ >= 0) return true;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        why = path_ + ": " + std::strerror(errno);
        return false;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        why = path_ + ": " + writer_taken;
        ::close(fd);
        return false;
    }
    writer_fd_ = fd;
    return true;
}

// WAL with synchronous=FULL (in WAL mode NORMAL can lose commits on power loss), and SQLite's
// own consistency check, so that a torn or damaged file is refused before it is trusted.
bool SqliteStore::check(std::string& why) {
    const std::string mode = query_text(db_, "PRAGMA journal_mode=WAL");
    if (mode != "wal") {
        why = mode.empty() ? sqlite_error(db_, "reading the store") : "cannot use WAL mode";
        return false;
    }
    if (!exec(db_, "PRAGMA synchronous=FULL", "setting synchronous=FULL", why)) return false;
    // The index pages the inserts touch stay in memory (64 MiB), and the log is folded into
    // the main file less often (every 16 MiB of log instead of 4 MiB): each checkpoint syncs.
    if (!exec(db_, "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=4096", "sizing the cache",
              why)) {
        return false;
    }
    const std::string integrity = query_text(db_, "PRAGMA quick_check");
    if (integrity != "ok") {
        why = "the store is damaged: " +
              (integrity.empty() ? sqlite_error(db_, "integrity check") : integrity);
        return false;
    }
    return true;
}

bool SqliteStore::migrate(std::string& why) {
    if (!exec(db_,
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
              "creating schema_migrations", why)) {
        return false;
    }
    return run_migrations(
        version(),
        [&](int v, std::string& failure) {
            const std::string sql = std::string("BEGIN IMMEDIATE;") + migrations[v] +
                                    "INSERT INTO schema_migrations VALUES (" +
                                    std::to_string(v + 1) + ", datetime('now'));COMMIT;";
            if (exec(db_, sql.c_str(), "migrating to schema " + std::to_string(v + 1), failure)) {
                return true;
            }
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            return false;
        },
        why);
}

bool run_migrations(int at, const std::function<bool(int v, std::string& why)>& apply,
                    std::string& why) {
    if (at > schema_version) {
        why = "the store has schema version " + std::to_string(at) + ", newer than this " +
              "slotmatch (" + std::to_string(schema_version) + ")";
        return false;
    }
    for (int v = at; v < schema_version; ++v) {
        if (!apply(v, why)) return false;
    }
    return true;
}

int SqliteStore::version() const {
    return static_cast<int>(query_int(db_, "SELECT max(version) FROM schema_migrations"));
}

std::optional<std::span<const Event>> new_events(std::span<const Event> events,
                                                 std::uint64_t last_seq, AppendResult& r) {
    r.committed_through = last_seq;
    std::size_t skip = 0;
    while (skip < events.size() && events[skip].seq <= last_seq) ++skip;
    r.duplicates = skip;
    std::uint64_t next = last_seq + 1;
    for (std::size_t i = skip; i < events.size(); ++i, ++next) {
        if (events[i].seq != next) {
            r.gap_expected = next;
            r.error = "gap in the event sequence: expected " + std::to_string(next) + ", got " +
                      std::to_string(events[i].seq) + "; nothing of this batch was stored";
            return std::nullopt;
        }
    }
    return events.subspan(skip);
}

AppendResult SqliteStore::append(std::span<const Event> events) {
    AppendResult r;
    const auto fresh = new_events(events, last_seq_, r);
    if (!fresh) return r;
    std::string why;
    if (!exec(db_, "BEGIN IMMEDIATE", "starting a batch", why)) {
        r.error = why;
        return r;
    }
    const auto fail = [&](std::string message) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        // What is durable is what the file says (a failed COMMIT may still have landed).
        read_last();
        r.committed_through = last_seq_;
        r.error = std::move(message);
        return r;
    };
    Statement insert(db_,
                     "INSERT INTO events (seq, time, kind, channel, unit, patient, booking, body)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!insert) return fail(sqlite_error(db_, "preparing the insert"));
    std::vector<Entry> log;    // web changes only: other events pay nothing here
    std::vector<Entry> audit;  // events that touched a patient
    flatbuffers::FlatBufferBuilder body(1024);
    for (const Event& e : *fresh) {
        if (makes_log_row(e)) {
            log.push_back(
                {{e.unit.value % log_buckets, e.time.value, as_sql(e.seq), e.unit.value}});
        }
        if (const PatientKey p = audit_patient(e); p.value != 0) {
            audit.push_back({{as_sql(p.value % audit_buckets), as_sql(e.seq), as_sql(p.value), 0}});
        }
        encode_stored(body, e);
        sqlite3_stmt* s = insert.get();
        sqlite3_bind_int64(s, 1, as_sql(e.seq));
        sqlite3_bind_int64(s, 2, e.time.value);
        sqlite3_bind_int(s, 3, static_cast<int>(e.kind));
        sqlite3_bind_int(s, 4, static_cast<int>(e.channel));
        sqlite3_bind_int64(s, 5, e.unit.value);
        sqlite3_bind_int64(s, 6, as_sql(e.patient.value));
        sqlite3_bind_int64(s, 7, as_sql(e.booking.value));
        sqlite3_bind_blob(s, 8, body.GetBufferPointer(), static_cast<int>(body.GetSize()),
                          SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) {
            return fail(sqlite_error(db_, "storing event " + std::to_string(e.seq)));
        }
        sqlite3_reset(s);
    }
    // The log's and the audit's entries, in the batch's transaction (R19).
    if (!insert_entries(db_, "web_log", 4, log, why) ||
        !insert_entries(db_, "audit", 3, audit, why)) {
        return fail(why);
    }
    if (!exec(db_, "COMMIT", "committing a batch", why)) return fail(why);
    if (!fresh->empty()) {
        last_seq_ = fresh->back().seq;
        last_time_ = fresh->back().time;
    }
    r.ok = true;
    r.appended = fresh->size();
    r.committed_through = last_seq_;
    return r;
}

void encode_stored(flatbuffers::FlatBufferBuilder& b, const Event& e) {
    b.Clear();
    b.Finish(codec::encode_event(b, e));
}

bool decode_stored(std::uint64_t seq, const std::uint8_t* data, std::size_t size, Event& out,
                   std::string& why) {
    flatbuffers::Verifier verifier(data, size, codec::reply_verify_depth_max);
    if (data == nullptr || !verifier.VerifyBuffer<wire::Event>(nullptr)) {
        why = "event " + std::to_string(seq) + " is damaged (it does not verify)";
        return false;
    }
    const wire::Event& stored = *flatbuffers::GetRoot<wire::Event>(data);
    // Values no slotmatch writes: a flipped bit in an enum (numbers cannot be told this way).
    const auto state_ok = [](const wire::SlotSnapshot* s) {
        return s == nullptr || static_cast<unsigned>(s->state()) <= 3;
    };
    if (stored.kind() > wire::EventKind::MAX || stored.channel() > wire::Channel::MAX ||
        !state_ok(stored.before()) || !state_ok(stored.after()) || !state_ok(stored.released())) {
        why = "event " + std::to_string(seq) + " is damaged (a kind, channel or slot state no " +
              "slotmatch writes)";
        return false;
    }
    out = codec::decode_event(stored);
    if (out.seq != seq) {
        why = "event " + std::to_string(seq) + " is damaged (it says it is event " +
              std::to_string(out.seq) + ")";
        return false;
    }
    return true;
}

namespace {

// The events a SELECT of (seq, body) rows finds, with ?1, ?2, ... bound to `params` in order,
// each decoded and given to `visit` until it returns false. False, with `why` naming `doing`,
// when the rows cannot be read or an event is damaged.
bool each_event(sqlite3* db, const char* sql, std::initializer_list<std::int64_t> params,
                const char* doing, const std::function<bool(const Event&)>& visit,
                std::string& why) {
    Statement select(db, sql);
    if (!select) {
        why = sqlite_error(db, doing);
        return false;
    }
    sqlite3_stmt* s = select.get();
    int at = 1;
    for (std::int64_t v : params) sqlite3_bind_int64(s, at++, v);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
        const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, 1));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(s, 1));
        Event e;
        if (!decode_stored(seq, data, size, e, why)) return false;
        if (!visit(e)) return true;
    }
    if (rc != SQLITE_DONE) {
        why = sqlite_error(db, doing);
        return false;
    }
    return true;
}

}  // namespace

bool SqliteStore::scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
                       std::string& why) const {
    return each_event(db_, "SELECT seq, body FROM events WHERE seq >= ?1 ORDER BY seq",
                      {as_sql(from)}, "reading events", visit, why);
}

bool SqliteStore::web_log(UnitIdx unit, Instant since, std::size_t limit, std::vector<LogRow>& out,
                          std::string& why) const {
    std::string problem;
    const bool read = each_event(
        db_,
        "SELECT w.seq, e.body FROM web_log w JOIN events e ON e.seq = w.seq"
        " WHERE w.unit = ?1 AND w.changed_at >= ?2 AND w.bucket = ?4"
        " ORDER BY w.changed_at, w.seq LIMIT ?3",
        {unit.value, since.value, static_cast<std::int64_t>(limit), unit.value % log_buckets},
        "reading the web booking log", [&](const Event& e) { return add_log_row(e, out, problem); },
        why);
    if (!problem.empty()) why = problem;
    return read && problem.empty();
}

// The entries are kept by bucket and time: the purge deletes the head of each bucket (a range
// before the cut-off), all in one transaction.
std::optional<std::size_t> SqliteStore::purge_web_log(Instant cutoff, std::string& why) {
    if (!exec(db_, "BEGIN IMMEDIATE", "purging the web booking log", why)) return std::nullopt;
    const auto fail = [&]() -> std::optional<std::size_t> {
        why = sqlite_error(db_, "purging the web booking log");
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return std::nullopt;
    };
    Statement purge(db_, "DELETE FROM web_log WHERE bucket = ?1 AND changed_at < ?2");
    if (!purge) return fail();
    std::size_t deleted = 0;
    for (std::uint32_t bucket = 0; bucket < log_buckets; ++bucket) {
        sqlite3_bind_int64(purge.get(), 1, bucket);
        sqlite3_bind_int64(purge.get(), 2, cutoff.value);
        if (sqlite3_step(purge.get()) != SQLITE_DONE) return fail();
        deleted += static_cast<std::size_t>(sqlite3_changes(db_));
        sqlite3_reset(purge.get());
    }
    if (!exec(db_, "COMMIT", "purging the web booking log", why)) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return std::nullopt;
    }
    return deleted;
}

bool SqliteStore::audit(PatientKey patient, Instant since, std::size_t limit,
                        std::vector<Event>& out, std::string& why) const {
    return each_event(
        db_,
        "SELECT a.seq, e.body FROM audit a JOIN events e ON e.seq = a.seq"
        " WHERE a.bucket = ?1 AND a.patient = ?2 AND e.time >= ?3"
        " ORDER BY a.seq LIMIT ?4",
        {as_sql(patient.value % audit_buckets), as_sql(patient.value), since.value,
         static_cast<std::int64_t>(limit)},
        "reading the audit",
        [&](const Event& e) {
            out.push_back(e);
            return true;
        },
        why);
}

}  // namespace slotmatch::journal
