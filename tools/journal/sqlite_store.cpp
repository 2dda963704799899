// The event store in SQLite: WAL with synchronous=FULL (in WAL mode NORMAL can lose commits on
// power loss), SQLite's own consistency check on open, flock(2) for the one writer.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
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

// The SQL of the log and audit entries. Which events make them is asked of the C++ that
// decides it (makes_log_row, audit_patient), so the two cannot drift apart: "channel = 0 AND
// kind IN (7,8,9)" for the web booking log, "patient != 0 AND kind IN (...)" for the audit.
struct EntrySql {
    std::string log_where;
    std::string audit_where;
    // A unit's log (?1 unit, ?2 since, ?3 limit, ?4 bucket) and a patient's audit (?1 bucket,
    // ?2 patient, ?3 since, ?4 limit): the entries, and the events committed past them.
    std::string web_log;
    std::string audit;

    static const EntrySql& get() {
        static const EntrySql sql = make();
        return sql;
    }

  private:
    static EntrySql make() {
        const auto kinds = [](const std::function<bool(const Event&)>& makes) {
            std::string in;
            for (int k = 0; k <= 0xff; ++k) {
                Event e;
                e.kind = static_cast<EventKind>(k);
                e.channel = Channel::web;
                e.patient = PatientKey{1};
                if (!makes(e)) continue;
                if (!in.empty()) in += ',';
                in += std::to_string(k);
            }
            SM_ASSERT(!in.empty());
            return "kind IN (" + in + ")";
        };
        EntrySql sql;
        sql.log_where = "channel = " + std::to_string(static_cast<int>(Channel::web)) + " AND " +
                        kinds([](const Event& e) { return makes_log_row(e); });
        sql.audit_where =
            "patient != 0 AND " + kinds([](const Event& e) { return audit_patient(e).value != 0; });
        const std::string past = " main.events WHERE seq > (SELECT through FROM entries.followed)";
        sql.web_log =
            // t among the results: SQLite then merges the two ordered halves and stops at the
            // limit, where ORDER BY a column not selected sorted a unit's whole window first.
            "SELECT seq, body, t FROM ("
            "  SELECT w.seq AS seq, w.changed_at AS t, e.body AS body"
            "  FROM entries.web_log w JOIN main.events e ON e.seq = w.seq AND e.unit = w.unit"
            "  WHERE w.bucket = ?4 AND w.unit = ?1 AND w.changed_at >= ?2"
            "  UNION ALL SELECT seq, time, body FROM" +
            past + " AND unit = ?1 AND time >= ?2 AND " + sql.log_where +
            ") ORDER BY t, seq LIMIT ?3";
        sql.audit =
            "SELECT seq, body FROM ("
            "  SELECT a.seq AS seq, e.body AS body"
            "  FROM entries.audit a JOIN main.events e ON e.seq = a.seq AND e.patient = a.patient"
            "  WHERE a.bucket = ?1 AND a.patient = ?2 AND e.time >= ?3"
            "  UNION ALL SELECT seq, body FROM" +
            past + " AND patient = ?2 AND time >= ?3 AND " + sql.audit_where +
            ") ORDER BY seq LIMIT ?4";
        return sql;
    }
};
static_assert(log_buckets == 64 && audit_buckets == 64, "bucket = key & 63 in the SQL below");

// The web booking log's and the access audit's entries, off the commit path. They live in a
// file of their own beside the store (PATH-entries), filled by a thread of its own from the
// events as they commit, in transactions of many commits. The commit that acknowledges a
// booking writes its events alone (a few pages at the end of one tree), where the entries,
// filed by unit and by patient, dirtied up to 64 pages each (bench/README.md). In a file of
// its own, the follower's transactions never wait for the writer's nor make it wait.
//
// The entries are an index of the events, never their only copy. The file records how far it
// has followed the events (`followed`, in the same transaction as the entries it covers);
// queries read the entries and add the committed events past that point from the store itself,
// so a reply never misses an event committed before it was asked for. An open catches up on
// what a crash left behind, and makes the file anew should it be missing, damaged, or another
// store's. synchronous=NORMAL: a power loss may take the newest entries, never their
// consistency, and the next open makes them again.
//
// A step rewrites the tail page of each run it adds to (64 runs in each of the two tables),
// however few entries it adds, so steps are few: every quarter of a second (or 16,384 events).
// Steps of 20 ms (4,096 events) wrote 1.29 GB in a run where these write 0.91 GB, and the
// follower's writes made fdatasync slow: a bystander's fdatasync took over 1 ms 277 times in
// 20,000 beside 20 ms steps, 127 times beside these, 104 beside steps of 1 s
// (bench/README.md, "The follower's steps"). Rarer steps would make a query's scan of the
// events past the entries longer, and a query on this connection wait for a longer step.
class Follower {
  public:
    static constexpr std::uint64_t lag_events = 1 << 14;  // follow once this many are waiting,
    static constexpr auto lag = std::chrono::milliseconds(250);  // or the first waited this long
    static constexpr std::uint64_t step_events_max = 1 << 16;    // events in one transaction
    static constexpr std::uint64_t progress_events = 1'000'000;  // a catch-up this long says so
    static constexpr auto retry_pause = std::chrono::milliseconds(200);

    // Opens (or makes) the entries of the store at `path`, whose events run to `last_seq`,
    // catches up with them, and starts following.
    // `check`: PRAGMA quick_check of the entries first (else EventStore::check_entries, later).
    static std::unique_ptr<Follower> start(const std::string& path, std::uint64_t last_seq,
                                           bool check, std::string& why) {
        auto f = std::unique_ptr<Follower>(new Follower(path));
        // Damage shows at the open, or only when the catch-up writes to a damaged page (the
        // open read no page of the entries' tables).
        if (!f->open(last_seq, check, why) || !f->catch_up(last_seq, why)) {
            // Anything but damage (a full disk, a lock held, an I/O error) leaves the file be.
            if (!f->damaged_) return nullptr;
            // The open and the catch-up read the events too: damage SQLite met there is not
            // the entries'.
            if (f->corrupt_met_ && !f->entries_damaged()) {
                why += " (the log and audit entries are sound: the damage is in the events)";
                return nullptr;
            }
            // Damaged: the entries can always be made again from the events.
            std::cerr << "slotmatch: " << entries_path(path) << ": " << why
                      << "; making the log and audit entries again from the events\n";
            f = std::unique_ptr<Follower>(new Follower(path));
            for (const char* suffix : {"", "-wal", "-shm", damaged_suffix}) {
                std::error_code ignored;
                std::filesystem::remove(entries_path(path) + suffix, ignored);
            }
            if (!f->open(last_seq, false, why) || !f->catch_up(last_seq, why)) return nullptr;
        }
        f->thread_ = std::thread([p = f.get()] { p->run(); });
        return f;
    }
    ~Follower() {
        if (thread_.joinable()) {
            {
                std::lock_guard lock(mutex_);
                stopping_ = true;
            }
            wake_.notify_one();
            thread_.join();
        }
        statements_.reset();
        sqlite3_close(db_);
    }
    Follower(const Follower&) = delete;
    Follower& operator=(const Follower&) = delete;

    static std::string entries_path(const std::string& store_path) {
        return store_path + "-entries";
    }
    // Beside the entries: a check found them damaged (check_entries); the next open makes them
    // again.
    static constexpr const char* damaged_suffix = "-damaged";
    static void mark_damaged(const std::string& store_path, const std::string& why) {
        std::ofstream(entries_path(store_path) + damaged_suffix) << why << '\n';
    }
    // Attaches the entries of the store at `store_path` to `db` as `entries`.
    static bool attach(sqlite3* db, const std::string& store_path, std::string& why) {
        char* sql =
            sqlite3_mprintf("ATTACH DATABASE %Q AS entries", entries_path(store_path).c_str());
        const bool ok = sql != nullptr && exec(db, sql, "opening the log and audit entries", why);
        sqlite3_free(sql);
        return ok;
    }
    // The same, on a connection that only reads from then on (a reader's, a query's).
    static bool attach_to_read(sqlite3* db, const std::string& store_path, std::string& why) {
        return attach(db, store_path, why) &&
               exec(db, "PRAGMA query_only=1", "opening the store to read", why);
    }

    // The writer, after each commit: the events now run to `through`.
    void committed(std::uint64_t through) {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            if (target_ == followed_) {
                waiting_since_ = std::chrono::steady_clock::now();
                wake = true;  // the thread starts its wait of `lag`
            }
            target_ = through;
            wake = wake || target_ - followed_ >= lag_events;
        }
        if (wake) wake_.notify_one();
    }
    // Runs `use` on the follower's connection (main: the store; `entries` attached) between
    // its transactions: the writer's queries of the entries and its purge.
    template <class Use>
    auto with_db(Use&& use) {
        std::lock_guard lock(db_mutex_);
        return use(db_);
    }
    // Inside with_db: follows every committed event now (before a purge, so that no entry
    // older than its cut-off is written after it).
    bool follow_all(std::string& why) {
        std::uint64_t to = 0;
        {
            std::lock_guard lock(mutex_);
            to = target_;
        }
        while (through_ < to) {
            if (!step(std::min(to, through_ + step_events_max), why)) return false;
        }
        return true;
    }

  private:
    explicit Follower(std::string path) : path_(std::move(path)) {}

    // The follower's statements, for ?1 < seq <= ?2.
    struct Statements {
        explicit Statements(sqlite3* db)
            : log(db, ("INSERT INTO entries.web_log SELECT unit & 63, time, seq, unit"
                       " FROM main.events WHERE seq > ?1 AND seq <= ?2 AND " +
                       EntrySql::get().log_where)
                          .c_str()),
              audit(db, ("INSERT INTO entries.audit SELECT patient & 63, seq, patient"
                         " FROM main.events WHERE seq > ?1 AND seq <= ?2 AND " +
                         EntrySql::get().audit_where)
                            .c_str()),
              mark(db, "UPDATE entries.followed SET through = ?2 WHERE through = ?1") {}
        explicit operator bool() const { return log && audit && mark; }
        Statement log;
        Statement audit;
        Statement mark;
    };

    bool open(std::uint64_t last_seq, bool check, std::string& why) {
        if (std::filesystem::exists(entries_path(path_) + damaged_suffix)) {
            why = "a check after the last start found them damaged";
            damaged_ = true;
            return false;
        }
        // CREATE for the entries file (an attached file opens as the main one does); the store
        // itself exists (its writer has it open).
        if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) != SQLITE_OK) {
            why = "opening the store for the log and audit entries: " +
                  std::string(db_ ? sqlite3_errmsg(db_) : "out of memory");
            return false;
        }
        sqlite3_busy_timeout(db_, 5000);
        const std::int64_t layout = 1;  // of the entries file (PRAGMA user_version)
        const auto damage = [&] {
            note_damage();
            return false;
        };
        if (!attach(db_, path_, why) ||
            !exec(db_, "PRAGMA entries.journal_mode=WAL", "opening the entries", why) ||
            !exec(db_, "PRAGMA entries.synchronous=NORMAL", "opening the entries", why)) {
            return damage();
        }
        if (const std::string integrity =
                check ? query_text(db_, "PRAGMA entries.quick_check") : std::string("ok");
            integrity != "ok") {
            if (integrity.empty()) {
                why = sqlite_error(db_, "checking the entries");
                return damage();
            }
            why = "damaged: " + integrity;
            damaged_ = true;
            return false;
        }
        if (const std::int64_t at = query_int(db_, "PRAGMA entries.user_version");
            at != 0 && at != layout) {
            why = "made by another slotmatch (layout " + std::to_string(at) + ")";
            damaged_ = true;
            return false;
        }
        if (!exec(db_,
                  "BEGIN;"
                  "CREATE TABLE IF NOT EXISTS entries.web_log ("
                  "  bucket INTEGER NOT NULL, changed_at INTEGER NOT NULL,"
                  "  seq INTEGER NOT NULL, unit INTEGER NOT NULL,"
                  "  PRIMARY KEY (bucket, changed_at, seq)) WITHOUT ROWID;"
                  "CREATE TABLE IF NOT EXISTS entries.audit ("
                  "  bucket INTEGER NOT NULL, seq INTEGER NOT NULL, patient INTEGER NOT NULL,"
                  "  PRIMARY KEY (bucket, seq)) WITHOUT ROWID;"
                  "CREATE TABLE IF NOT EXISTS entries.followed ("
                  "  one INTEGER PRIMARY KEY CHECK (one = 0), store BLOB NOT NULL,"
                  "  through INTEGER NOT NULL);"
                  "INSERT OR IGNORE INTO entries.followed"
                  "  SELECT 0, id, 0 FROM main.store_identity;"
                  "PRAGMA entries.user_version = 1;"
                  // Another store's entries, or ahead of these events (a store file put back
                  // from a copy): made again from the events.
                  "UPDATE entries.followed SET through = 0,"
                  "  store = (SELECT id FROM main.store_identity)"
                  "  WHERE store != (SELECT id FROM main.store_identity)"
                  "     OR through > (SELECT ifnull(max(seq), 0) FROM main.events);",
                  "opening the entries", why)) {
            damage();
            roll_back(db_);
            return false;
        }
        through_ =
            static_cast<std::uint64_t>(query_int(db_, "SELECT through FROM entries.followed"));
        // Entries to make anew start empty. (Only then: a DELETE whose WHERE is false still
        // reads every page of its table, and an open would read the whole file.)
        if (!(through_ != 0 || exec(db_, "DELETE FROM entries.web_log; DELETE FROM entries.audit",
                                    "opening the entries", why)) ||
            !exec(db_, "COMMIT", "opening the entries", why)) {
            damage();
            roll_back(db_);
            return false;
        }
        SM_ASSERT(through_ <= last_seq);
        followed_ = target_ = through_;
        statements_ = std::make_unique<Statements>(db_);
        if (!*statements_) {
            why = sqlite_error(db_, "preparing the follower");
            return false;
        }
        return true;
    }

    // One transaction: the entries of the events after through_ up to `to`. BEGIN, never
    // IMMEDIATE, on this connection (and for the purge): an immediate transaction takes the
    // write lock of every attached file, the store's too, and the writer waited for it (a p99
    // of 90-120 ms instead of 4-7 ms, slotmatch_wire_bench's open loop at 25,000/s).
    bool step(std::uint64_t to, std::string& why) {
        if (!exec(db_, "BEGIN", "following the events", why)) return false;
        for (const Statement* s : {&statements_->log, &statements_->audit, &statements_->mark}) {
            sqlite3_bind_int64(s->get(), 1, as_sql(through_));
            sqlite3_bind_int64(s->get(), 2, as_sql(to));
            const int rc = sqlite3_step(s->get());
            sqlite3_reset(s->get());
            if (rc != SQLITE_DONE) {
                why = sqlite_error(db_, "writing the log and audit entries");
                note_damage();
                roll_back(db_);
                return false;
            }
        }
        if (sqlite3_changes(db_) != 1) {
            why = "the entries file was changed behind the follower's back";
            roll_back(db_);
            return false;
        }
        if (!exec(db_, "COMMIT", "writing the log and audit entries", why)) {
            note_damage();
            roll_back(db_);
            return false;
        }
        through_ = to;
        return true;
    }

    // Whether PRAGMA quick_check finds the entries damaged (seconds for a national store's: only
    // after a statement met damage).
    bool entries_damaged() const {
        return db_ == nullptr || query_text(db_, "PRAGMA entries.quick_check") != "ok";
    }

    // After a failed statement: damaged_ when SQLite found a damaged page (of the entries, or
    // of the events it read: a remade file finds the latter again, and the start then fails).
    void note_damage() {
        const int code = sqlite3_errcode(db_);
        corrupt_met_ = corrupt_met_ || code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
        damaged_ = damaged_ || corrupt_met_;
    }

    // At open: the entries of every event the file has not followed yet (after a crash, the
    // last few transactions' worth; for a new or remade file, every event).
    bool catch_up(std::uint64_t last_seq, std::string& why) {
        const std::uint64_t from = through_;
        const bool say = last_seq - from >= progress_events;
        if (say) {
            std::cerr << "slotmatch: " << entries_path(path_)
                      << ": making the log and audit entries of events " << from + 1 << " to "
                      << last_seq << "\n";
        }
        int said = 0;
        while (through_ < last_seq) {
            if (!step(std::min(last_seq, through_ + step_events_max), why)) {
                why = entries_path(path_) + ": " + why;
                return false;
            }
            const int percent = static_cast<int>(100 * (through_ - from) / (last_seq - from));
            if (say && percent >= said + 10) {
                said = percent;
                std::cerr << "slotmatch: " << entries_path(path_) << ": " << percent << " %\n";
            }
        }
        followed_ = target_ = through_;
        return true;
    }

    // Follows target_ in steps, each when lag_events are waiting or the first has waited `lag`;
    // a failed step (a full disk) is tried again after a pause, and said once. Stopping
    // follows what was committed first (the next open would otherwise).
    void run() {
        std::unique_lock lock(mutex_);
        bool failing = false;
        bool looked = false;
        for (;;) {
            wake_.wait(lock, [&] { return stopping_ || target_ > followed_; });
            if (target_ == followed_) return;  // stopping, and all followed
            wake_.wait_until(lock, waiting_since_ + lag,
                             [&] { return stopping_ || target_ - followed_ >= lag_events; });
            const std::uint64_t to = std::min(target_, followed_ + step_events_max);
            lock.unlock();
            std::string why;
            std::uint64_t through = 0;
            const bool ok = with_db([&](sqlite3*) {
                const bool stepped = to <= through_ || step(to, why);  // a purge may have
                through = through_;
                return stepped;
            });
            if (!ok && !failing) {
                std::cerr << "slotmatch: " << entries_path(path_)
                          << ": the log and audit entries are behind: " << why
                          << " (queries read the events past them; tried again)\n";
            }
            // Damage met while following, looked into once: the entries' own is marked, so that
            // the next open makes them again (the events' is the store's check's to find).
            if (!ok && !looked && with_db([&](sqlite3*) { return damaged_; })) {
                looked = true;
                if (with_db([&](sqlite3*) { return entries_damaged(); })) mark_damaged(path_, why);
            }
            failing = !ok;
            lock.lock();
            if (ok) {
                followed_ = through;
                waiting_since_ = std::chrono::steady_clock::now();
            } else if (stopping_ || wake_.wait_for(lock, retry_pause, [&] { return stopping_; })) {
                return;
            }
        }
    }

    std::string path_;
    sqlite3* db_ = nullptr;
    bool damaged_ = false;  // open() failed for damage (made anew), not for a full disk or a lock
    bool corrupt_met_ = false;  // SQLite met a damaged page: the entries', or the events'
    std::unique_ptr<Statements> statements_;
    std::mutex db_mutex_;        // db_ between transactions
    std::uint64_t through_ = 0;  // under db_mutex_: what the file has followed
    std::mutex mutex_;
    std::condition_variable wake_;
    std::uint64_t target_ = 0;    // under mutex_: what is committed
    std::uint64_t followed_ = 0;  // under mutex_: through_ as the thread last saw it
    std::chrono::steady_clock::time_point waiting_since_;  // under mutex_
    bool stopping_ = false;                                // under mutex_
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
    bool open(bool reader, WholeCheck whole, std::string& why);

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
    bool check(WholeCheck whole, std::string& why);
    PageCheck check_whole(std::string& why, std::uint64_t wal_growth_max) const override;
    PageCheck check_entries(std::string& why) const override;
    void interrupt() const override { sqlite3_interrupt(db_); }
    void read_last();
    // Stores the events, inside the caller's transaction (their log and audit entries are the
    // Follower's).
    bool insert(std::span<const Event> events, std::string& why);
    // The connection the log and audit are read on: the reader's own (the entries attached),
    // or the writer's Follower's.
    template <class Use>
    auto with_entries(Use&& use) const {
        if (follower_) return follower_->with_db(use);
        if (reader_) return use(db_);
        // A writer that has not claimed the store (a test, a bench): a connection of its own
        // that only reads, with the entries the claimed writer keeps attached.
        if (query_db_ == nullptr) {
            std::string ignored;  // a failure shows in the query's own error
            sqlite3_open_v2(path_.c_str(), &query_db_, SQLITE_OPEN_READWRITE, nullptr);
            sqlite3_busy_timeout(query_db_, 5000);
            Follower::attach_to_read(query_db_, path_, ignored);
        }
        return use(query_db_);
    }

    sqlite3* db_;
    std::string path_;
    int writer_fd_ = -1;  // held open with the flock while this is the writer
    std::uint64_t last_seq_ = 0;
    Instant last_time_;
    // The writer's INSERT, prepared once and held across commits; finalised before db_ closes.
    std::unique_ptr<Statement> insert_event_;
    std::unique_ptr<Checkpointer> checkpointer_;  // the writer's; ends before db_ closes
    std::unique_ptr<Follower> follower_;          // the claimed writer's (claim_writer)
    bool reader_ = false;                         // open_reader's: the entries attached to db_
    WholeCheck whole_ = WholeCheck::at_open;      // later: the entries' check too
    mutable sqlite3* query_db_ = nullptr;         // an unclaimed writer's queries of the entries
    flatbuffers::FlatBufferBuilder body_{1024};
};

bool SqliteStore::open(bool reader, WholeCheck whole, std::string& why) {
    sqlite3_busy_timeout(db_, 5000);
    whole_ = whole;
    if (reader) {
        if (!Follower::attach_to_read(db_, path_, why)) {
            why = path_ + ": " + why;
            return false;
        }
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
        if (!check(whole, why) || !migrate(sqlite, why)) {
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
    reader_ = reader;
    return true;
}

void SqliteStore::read_last() {
    last_seq_ = static_cast<std::uint64_t>(query_int(db_, "SELECT max(seq) FROM events"));
    last_time_ = Instant{query_int(db_, "SELECT time FROM events ORDER BY seq DESC LIMIT 1")};
}

SqliteStore::~SqliteStore() {
    insert_event_.reset();  // finalised before the connection closes
    follower_.reset();
    checkpointer_.reset();
    sqlite3_close(query_db_);
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
    read_last();  // another writer may have committed between open() and the claim
    // The one writer alone follows the events into the entries (and makes them anew if need
    // be): two followers would write the same entries.
    follower_ = Follower::start(path_, last_seq_, whole_ == WholeCheck::at_open, why);
    if (!follower_) {
        why = path_ + ": " + why;
        ::close(writer_fd_);
        writer_fd_ = -1;
        return false;
    }
    return true;
}

// WAL with synchronous=FULL, and SQLite's own consistency check, so that a torn or damaged
// file is refused before it is trusted.
bool SqliteStore::check(WholeCheck whole, std::string& why) {
    const std::string mode = query_text(db_, "PRAGMA journal_mode=WAL");
    if (mode != "wal") {
        why = mode.empty() ? sqlite_error(db_, "reading the store") : "cannot use WAL mode";
        return false;
    }
    if (!exec(db_, "PRAGMA synchronous=FULL", "setting synchronous=FULL", why)) return false;
    // The index pages the inserts touch stay in memory (64 MiB); checkpoints are the
    // Checkpointer's (open() starts it once the store is checked and migrated).
    if (!exec(db_, "PRAGMA cache_size=-65536", "sizing the cache", why)) return false;
    return whole == WholeCheck::later || check_whole(why, check_wal_growth_max) == PageCheck::sound;
}

namespace {

// PRAGMA quick_check of `schema` ("main", "entries"): damaged when it finds damage or SQLite
// meets a damaged page on the way; not done when it stops for anything else.
EventStore::PageCheck quick_check(sqlite3* db, const std::string& schema, std::string& why) {
    const std::string integrity = query_text(db, ("PRAGMA " + schema + ".quick_check").c_str());
    if (integrity == "ok") return EventStore::PageCheck::sound;
    if (!integrity.empty()) {
        why = "damaged: " + integrity;
        return EventStore::PageCheck::damaged;
    }
    const int code = sqlite3_errcode(db);
    why = sqlite_error(db, "checking every page");
    if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB) return EventStore::PageCheck::not_done;
    why = "damaged: " + why;
    return EventStore::PageCheck::damaged;
}

}  // namespace

EventStore::PageCheck SqliteStore::check_whole(std::string& why,
                                              std::uint64_t wal_growth_max) const {
    // The WAL's size is looked at every 100 ms by a thread of its own: SQLite 3.40's
    // quick_check calls no progress handler, but it stops at sqlite3_interrupt (sent until the
    // check has ended: one sent before the statement runs is lost).
    const std::string wal = path_ + "-wal";
    const auto wal_bytes = [&wal] {
        std::error_code ignored;
        const auto size = std::filesystem::file_size(wal, ignored);
        return ignored ? std::uintmax_t{0} : size;
    };
    const std::uintmax_t limit = wal_bytes() + wal_growth_max;
    // The end wakes the watch at once: a start that checks before it serves waits for it.
    std::mutex mutex;
    std::condition_variable end;
    bool ended = false;  // under mutex
    bool gave_way = false;
    std::thread watch([&] {
        std::unique_lock lock(mutex);
        while (!end.wait_for(lock, std::chrono::milliseconds(gave_way ? 10 : 100),
                             [&] { return ended; })) {
            if (gave_way || wal_bytes() > limit) {
                gave_way = true;
                sqlite3_interrupt(db_);
            }
        }
    });
    const PageCheck found = quick_check(db_, "main", why);
    {
        std::lock_guard lock(mutex);
        ended = true;
    }
    end.notify_one();
    watch.join();
    if (gave_way && found == PageCheck::not_done) {
        why = "it gave way to the WAL, which grew by more than " +
              std::to_string(wal_growth_max >> 20) +
              " MiB while it ran (the check's read holds the WAL: the checkpoints cannot reset "
              "it until the check ends)";
        return found;
    }
    if (found == PageCheck::damaged) why = "the store is " + why;
    return found;
}

EventStore::PageCheck SqliteStore::check_entries(std::string& why) const {
    SM_ASSERT(reader_);  // a reader has the entries attached
    const PageCheck found = quick_check(db_, "entries", why);
    // Marked for the writer's next open, which makes them again from the events. (A busy file
    // or an I/O error says nothing of the pages: not marked.)
    if (found == PageCheck::damaged) Follower::mark_damaged(path_, why);
    return found;
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
    if (follower_ && !fresh->empty()) follower_->committed(last_seq_);
    return r;
}

bool SqliteStore::insert(std::span<const Event> events, std::string& why) {
    if (!insert_event_) {
        auto prepared = std::make_unique<Statement>(
            db_,
            "INSERT INTO events (seq, time, kind, channel, unit, patient, booking, body)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!*prepared) {
            why = sqlite_error(db_, "preparing the insert");
            return false;
        }
        insert_event_ = std::move(prepared);
    }
    flatbuffers::FlatBufferBuilder& body = body_;
    for (const Event& e : events) {
        encode_stored(body, e);
        sqlite3_stmt* s = insert_event_->get();
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
    return true;
}

bool SqliteStore::select(const Query& q, const std::function<bool(const Event&)>& visit,
                         std::string& why) const {
    const auto limit = static_cast<std::int64_t>(q.limit);
    switch (q.kind) {
        case Query::Kind::events_from:
            return each_event(db_, "SELECT seq, body FROM events WHERE seq >= ?1 ORDER BY seq",
                              {as_sql(q.from_seq)}, "reading events", visit, why);
        case Query::Kind::web_log:
            return with_entries([&](sqlite3* db) {
                return each_event(db, EntrySql::get().web_log.c_str(),
                                  {q.unit.value, q.since.value, limit, q.unit.value % log_buckets},
                                  "reading the web booking log", visit, why);
            });
        case Query::Kind::audit:
            return with_entries([&](sqlite3* db) {
                return each_event(db, EntrySql::get().audit.c_str(),
                                  {as_sql(q.patient.value % audit_buckets), as_sql(q.patient.value),
                                   q.since.value, limit},
                                  "reading the audit", visit, why);
            });
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
    return with_entries([&](sqlite3* db) -> std::optional<std::size_t> {
        if (follower_ && !follower_->follow_all(why)) return std::nullopt;
        if (!exec(db, "BEGIN", "purging the web booking log", why)) return std::nullopt;
        const auto fail = [&]() -> std::optional<std::size_t> {
            why = sqlite_error(db, "purging the web booking log");
            roll_back(db);
            return std::nullopt;
        };
        Statement purge(db, "DELETE FROM entries.web_log WHERE bucket = ?1 AND changed_at < ?2");
        if (!purge) return fail();
        std::size_t deleted = 0;
        for (std::uint32_t bucket = 0; bucket < log_buckets; ++bucket) {
            sqlite3_bind_int64(purge.get(), 1, bucket);
            sqlite3_bind_int64(purge.get(), 2, cutoff.value);
            if (sqlite3_step(purge.get()) != SQLITE_DONE) return fail();
            deleted += static_cast<std::size_t>(sqlite3_changes(db));
            sqlite3_reset(purge.get());
        }
        if (!exec(db, "COMMIT", "purging the web booking log", why)) {
            roll_back(db);
            return std::nullopt;
        }
        return deleted;
    });
}

}  // namespace

std::unique_ptr<EventStore> open_sqlite_store(const std::string& path, std::string& why,
                                              bool reader, WholeCheck check) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (reader ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        why = "cannot open the store " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return nullptr;
    }
    auto store = std::make_unique<SqliteStore>(db, path);
    if (!store->open(reader, check, why)) return nullptr;
    return store;
}

}  // namespace slotmatch::journal
