// The event store in SQLite: WAL with synchronous=FULL (in WAL mode NORMAL can lose commits on
// power loss), SQLite's own consistency check on open, flock(2) for the one writer.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <slotmatch/assert.hpp>
#include <thread>
#include <vector>

#include "access_audit.hpp"
#include "event_store.hpp"

namespace slotmatch::journal {

namespace {

std::string sqlite_error(sqlite3* db, const std::string& doing) {
    const int code = sqlite3_errcode(db);
    std::string why = doing + ": " + sqlite3_errmsg(db);
    if (code == SQLITE_FULL) why += " (the disk is full)";
    if (code == SQLITE_NOTADB) why += " (not a slotmatch store, or its header is damaged)";
    if (code == SQLITE_CORRUPT) why += " (the store is damaged)";
    return why;
}

bool exec(sqlite3* db, const std::string& sql, const std::string& doing, std::string& why) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) return true;
    why = sqlite_error(db, doing);
    return false;
}

void roll_back(sqlite3* db) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
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

// The INSERTs of one entry table, prepared once for the writer's connection: one row, and
// rows_per_statement rows (fewer steps for a large batch).
struct EntryInserts {
    static constexpr std::size_t rows_per_statement = 64;

    EntryInserts(sqlite3* db, const char* table, int columns)
        : table(table),
          columns(columns),
          one(db, sql(table, columns, 1).c_str()),
          many(db, sql(table, columns, rows_per_statement).c_str()) {
        SM_ASSERT(columns == 3 || columns == 4);
    }
    static std::string sql(const char* table, int columns, std::size_t rows) {
        const std::string row = columns == 3 ? "(?,?,?)" : "(?,?,?,?)";
        std::string s = std::string("INSERT INTO ") + table + " VALUES " + row;
        for (std::size_t i = 1; i < rows; ++i) s += "," + row;
        return s;
    }
    explicit operator bool() const { return one && many; }

    const char* table;
    int columns;
    Statement one;
    Statement many;
};

// Inserts a batch's entries in key order, so each lands next to the one before it (fewer
// pages visited than in event order), 64 rows a statement (fewer steps); inside the caller's
// transaction.
bool insert_entries(sqlite3* db, EntryInserts& inserts, std::vector<Entry>& entries,
                    std::string& why) {
    if (entries.empty()) return true;
    std::sort(entries.begin(), entries.end());
    constexpr std::size_t rows_per_statement = EntryInserts::rows_per_statement;
    const char* table = inserts.table;
    const int columns = inserts.columns;
    std::size_t at = 0;
    while (at < entries.size()) {
        const bool full = entries.size() - at >= rows_per_statement;
        sqlite3_stmt* s = full ? inserts.many.get() : inserts.one.get();
        const std::size_t n = full ? rows_per_statement : 1;
        for (std::size_t r = 0; r < n; ++r) {
            for (int i = 0; i < columns; ++i) {
                sqlite3_bind_int64(s, static_cast<int>(r) * columns + i + 1,
                                   entries[at + r].column[i]);
            }
        }
        if (sqlite3_step(s) != SQLITE_DONE) {
            why = sqlite_error(db, std::string("storing ") + table + " entries");
            sqlite3_reset(s);  // statements held across commits are left reset, failed or not
            return false;
        }
        sqlite3_reset(s);
        at += n;
    }
    return true;
}

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
        ConfigArena config;  // a settings change's, for as long as `visit` looks at the event
        if (!decode_stored(seq, data, size, e, why, &config)) return false;
        if (!visit(e)) return true;
    }
    if (rc != SQLITE_DONE) {
        why = sqlite_error(db, doing);
        return false;
    }
    return true;
}

// WAL checkpoints off the commit path: a thread of its own, with a connection of its own
// (synchronous=FULL, so a checkpoint syncs the main file before the log may be reused), folds
// the log into the main file once a commit has left `pages_due` pages in it. A PASSIVE
// checkpoint never waits for the writer nor makes it wait, so a commit no longer pays for one
// (SQLite's automatic checkpoint ran inside the COMMIT that crossed the threshold). Should the
// log outgrow `pages_max` all the same (the thread starved of CPU), the commit that finds it
// so checkpoints itself, as SQLite would.
class Checkpointer {
  public:
    static constexpr int pages_due = 4096;     // 16 MiB of log
    static constexpr int pages_max = 1 << 16;  // 256 MiB of log

    static std::unique_ptr<Checkpointer> start(sqlite3* writer, const std::string& path,
                                               std::string& why) {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            why = "opening the checkpoint connection: " +
                  std::string(db ? sqlite3_errmsg(db) : "out of memory");
            sqlite3_close(db);
            return nullptr;
        }
        sqlite3_busy_timeout(db, 5000);
        if (!exec(db, "PRAGMA synchronous=FULL", "setting up the checkpoints", why)) {
            sqlite3_close(db);
            return nullptr;
        }
        auto c = std::unique_ptr<Checkpointer>(new Checkpointer(writer, db));
        sqlite3_wal_hook(writer, &Checkpointer::committed, c.get());  // replaces the automatic
        c->thread_ = std::thread([p = c.get()] { p->run(); });
        return c;
    }
    ~Checkpointer() {
        sqlite3_wal_hook(writer_, nullptr, nullptr);
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
        sqlite3_close(db_);
    }
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

  private:
    Checkpointer(sqlite3* writer, sqlite3* db) : writer_(writer), db_(db) {}

    // SQLite's WAL hook: after each commit, with the pages the log now holds.
    static int committed(void* self, sqlite3* writer, const char* /*schema*/, int pages) {
        auto* c = static_cast<Checkpointer*>(self);
        if (pages >= pages_max) {
            sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        } else if (pages >= pages_due) {
            {
                std::lock_guard lock(c->mutex_);
                c->due_ = true;
            }
            c->wake_.notify_one();
        }
        return SQLITE_OK;
    }

    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return due_ || stopping_; });
            if (stopping_) return;
            due_ = false;
            lock.unlock();
            // Busy (another checkpoint) or failing (a full disk): the log stays, the next
            // commit past the threshold asks again; the events are safe in the log meanwhile.
            sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            lock.lock();
        }
    }

    sqlite3* writer_;
    sqlite3* db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool due_ = false;       // under mutex_
    bool stopping_ = false;  // under mutex_
    std::thread thread_;
};

class SqliteStore final : public EventStore {
  public:
    SqliteStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    // A reader opens an existing store without checking or migrating it (the writer did),
    // and may only read (query_only), so it can never take the writer's lock.
    bool open(bool reader, std::string& why);

    AppendResult append(std::span<const Event> events) override;
    std::uint64_t last_seq() const override { return last_seq_; }
    Instant last_time() const override { return last_time_; }
    int version() const override;
    // flock(2) on the store file: independent of SQLite's own fcntl locks, so readers go on.
    bool claim_writer(std::string& why) override;
    std::optional<std::size_t> purge_web_log(Instant cutoff, std::string& why) override;

  private:
    bool select(const Query& q, const std::function<bool(const Event&)>& visit,
                std::string& why) const override;
    bool check(std::string& why);
    void read_last();
    // Stores the events and their log and audit entries, inside the caller's transaction.
    bool insert(std::span<const Event> events, std::string& why);
    // The writer's INSERTs, prepared at its first batch and held across commits.
    bool prepare_inserts(std::string& why);

    struct Inserts {
        explicit Inserts(sqlite3* db)
            : event(db,
                    "INSERT INTO events (seq, time, kind, channel, unit, patient, booking, body)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
              log(db, "web_log", 4),
              audit(db, "audit", 3) {}
        Statement event;
        EntryInserts log;
        EntryInserts audit;
    };

    sqlite3* db_;
    std::string path_;
    int writer_fd_ = -1;  // held open with the flock while this is the writer
    std::uint64_t last_seq_ = 0;
    Instant last_time_;
    std::unique_ptr<Inserts> inserts_;            // before db_ closes (the destructor resets it)
    std::unique_ptr<Checkpointer> checkpointer_;  // the writer's; ends before db_ closes
    std::vector<Entry> log_entries_;              // a batch's, kept for their capacity
    std::vector<Entry> audit_entries_;
    flatbuffers::FlatBufferBuilder body_{1024};
};

bool SqliteStore::open(bool reader, std::string& why) {
    sqlite3_busy_timeout(db_, 5000);
    if (reader) {
        if (!exec(db_, "PRAGMA query_only=1", "opening a reader", why)) return false;
        if (!schema_is_current(version(), why)) {
            why = path_ + ": " + why;
            return false;
        }
    } else {
        const SchemaDialect sqlite{
            [&](const std::string& sql, const std::string& doing, std::string& failure) {
                return exec(db_, sql, doing, failure);
            },
            [&] { return version(); }, "BEGIN IMMEDIATE",
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            false};
        if (!check(why) || !migrate(sqlite, why)) {
            why = path_ + ": " + why;
            return false;
        }
        checkpointer_ = Checkpointer::start(db_, path_, why);
        if (!checkpointer_) {
            why = path_ + ": " + why;
            return false;
        }
    }
    read_last();
    return true;
}

void SqliteStore::read_last() {
    last_seq_ = static_cast<std::uint64_t>(query_int(db_, "SELECT max(seq) FROM events"));
    last_time_ = Instant{query_int(db_, "SELECT time FROM events ORDER BY seq DESC LIMIT 1")};
}

SqliteStore::~SqliteStore() {
    inserts_.reset();  // its statements are finalised before the connection closes
    checkpointer_.reset();
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

// WAL with synchronous=FULL, and SQLite's own consistency check, so that a torn or damaged
// file is refused before it is trusted.
bool SqliteStore::check(std::string& why) {
    const std::string mode = query_text(db_, "PRAGMA journal_mode=WAL");
    if (mode != "wal") {
        why = mode.empty() ? sqlite_error(db_, "reading the store") : "cannot use WAL mode";
        return false;
    }
    if (!exec(db_, "PRAGMA synchronous=FULL", "setting synchronous=FULL", why)) return false;
    // The index pages the inserts touch stay in memory (64 MiB); checkpoints are the
    // Checkpointer's (open() starts it once the store is checked and migrated).
    if (!exec(db_, "PRAGMA cache_size=-65536", "sizing the cache", why)) return false;
    const std::string integrity = query_text(db_, "PRAGMA quick_check");
    if (integrity != "ok") {
        why = "the store is damaged: " +
              (integrity.empty() ? sqlite_error(db_, "integrity check") : integrity);
        return false;
    }
    return true;
}

int SqliteStore::version() const {
    return static_cast<int>(query_int(db_, "SELECT max(version) FROM schema_migrations"));
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
    if (!insert(*fresh, why) || !exec(db_, "COMMIT", "committing a batch", why)) {
        roll_back(db_);
        // What is durable is what the file says (a failed COMMIT may still have landed).
        read_last();
        r.committed_through = last_seq_;
        r.error = std::move(why);
        return r;
    }
    committed(*fresh, last_seq_, last_time_, r);
    return r;
}

bool SqliteStore::prepare_inserts(std::string& why) {
    if (inserts_) return true;
    auto inserts = std::make_unique<Inserts>(db_);
    if (!inserts->event || !inserts->log || !inserts->audit) {
        why = sqlite_error(db_, "preparing the inserts");
        return false;
    }
    inserts_ = std::move(inserts);
    return true;
}

bool SqliteStore::insert(std::span<const Event> events, std::string& why) {
    if (!prepare_inserts(why)) return false;
    std::vector<Entry>& log = log_entries_;      // web changes only: other events pay nothing
    std::vector<Entry>& audit = audit_entries_;  // events that touched a patient
    log.clear();
    audit.clear();
    flatbuffers::FlatBufferBuilder& body = body_;
    for (const Event& e : events) {
        if (makes_log_row(e)) {
            log.push_back(
                {{e.unit.value % log_buckets, e.time.value, as_sql(e.seq), e.unit.value}});
        }
        if (const PatientKey p = audit_patient(e); p.value != 0) {
            audit.push_back({{as_sql(p.value % audit_buckets), as_sql(e.seq), as_sql(p.value), 0}});
        }
        encode_stored(body, e);
        sqlite3_stmt* s = inserts_->event.get();
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
            why = sqlite_error(db_, "storing event " + std::to_string(e.seq));
            sqlite3_reset(s);
            return false;
        }
        sqlite3_reset(s);
    }
    // The log's and the audit's entries, in the batch's transaction (R19).
    return insert_entries(db_, inserts_->log, log, why) &&
           insert_entries(db_, inserts_->audit, audit, why);
}

bool SqliteStore::select(const Query& q, const std::function<bool(const Event&)>& visit,
                         std::string& why) const {
    const auto limit = static_cast<std::int64_t>(q.limit);
    switch (q.kind) {
        case Query::Kind::events_from:
            return each_event(db_, "SELECT seq, body FROM events WHERE seq >= ?1 ORDER BY seq",
                              {as_sql(q.from_seq)}, "reading events", visit, why);
        case Query::Kind::web_log:
            return each_event(db_,
                              "SELECT w.seq, e.body FROM web_log w JOIN events e ON e.seq = w.seq"
                              " WHERE w.unit = ?1 AND w.changed_at >= ?2 AND w.bucket = ?4"
                              " ORDER BY w.changed_at, w.seq LIMIT ?3",
                              {q.unit.value, q.since.value, limit, q.unit.value % log_buckets},
                              "reading the web booking log", visit, why);
        case Query::Kind::audit:
            return each_event(db_,
                              "SELECT a.seq, e.body FROM audit a JOIN events e ON e.seq = a.seq"
                              " WHERE a.bucket = ?1 AND a.patient = ?2 AND e.time >= ?3"
                              " ORDER BY a.seq LIMIT ?4",
                              {as_sql(q.patient.value % audit_buckets), as_sql(q.patient.value),
                               q.since.value, limit},
                              "reading the audit", visit, why);
        case Query::Kind::entities:
            return each_event(db_,
                              "SELECT seq, body FROM events INDEXED BY events_entities"
                              " WHERE kind = 16 ORDER BY seq",
                              {}, "reading the catalog entities", visit, why);
    }
    SM_ASSERT(false && "a query of each kind");
    return false;
}

// The entries are kept by bucket and time: the purge deletes the head of each bucket (a range
// before the cut-off), all in one transaction.
std::optional<std::size_t> SqliteStore::purge_web_log(Instant cutoff, std::string& why) {
    if (!exec(db_, "BEGIN IMMEDIATE", "purging the web booking log", why)) return std::nullopt;
    const auto fail = [&]() -> std::optional<std::size_t> {
        why = sqlite_error(db_, "purging the web booking log");
        roll_back(db_);
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
        roll_back(db_);
        return std::nullopt;
    }
    return deleted;
}

}  // namespace

std::unique_ptr<EventStore> open_sqlite_store(const std::string& path, std::string& why,
                                              bool reader) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (reader ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        why = "cannot open the store " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return nullptr;
    }
    auto store = std::make_unique<SqliteStore>(db, path);
    if (!store->open(reader, why)) return nullptr;
    return store;
}

}  // namespace slotmatch::journal
