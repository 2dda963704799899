// The journal's SQLite event store on real files: the store contract (store_contract.hpp),
// and a damaged or torn file refused with a message that names the damage.
#include <atomic>
#include <functional>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <slotmatch/codec.hpp>
#include <thread>
#include <vector>

#include "event_store.hpp"
#include "store_contract.hpp"
#include "temp_dir.hpp"

namespace slotmatch::journal {
namespace {

class EventStore : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = testing::fresh_temp_dir("store");
        path_ = (dir_ / "journal.sqlite").string();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Claimed as the one writer, which keeps the log's and the audit's entries.
    std::unique_ptr<journal::EventStore> open() {
        std::string why;
        auto store = open_sqlite_store(path_, why);
        EXPECT_TRUE(store) << why;
        if (store && !store->claim_writer(why)) {
            ADD_FAILURE() << why;
            return nullptr;
        }
        return store;
    }
    static std::vector<Event> events(std::uint64_t first, std::uint64_t last) {
        return contract::events(first, last);
    }
    // Page `page` (from 0) of `file` overwritten: a damaged page.
    static void damage_page(const std::string& file, std::uint64_t page) {
        std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
        out.seekp(static_cast<std::streamoff>(page * 4096));
        out << std::string(4096, 'x');
    }
    // slotmatchd's start from a snapshot: a writer opened with WholeCheck::later claims the
    // store. Whether it did; what the store printed in `said`.
    bool claim_later(std::unique_ptr<journal::EventStore>& writer, std::string& why,
                     std::string& said) {
        ::testing::internal::CaptureStderr();
        writer = open_sqlite_store(path_, why, false, journal::WholeCheck::later);
        const bool claimed = writer && writer->claim_writer(why);
        said = ::testing::internal::GetCapturedStderr();
        return claimed;
    }
    // log_events(), then 40 batches of 256 events (6 + 10,240 events), by a writer that then
    // closes: entries several pages long, for the tests that damage or check them.
    void fill_with_history() {
        auto store = open();
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->append(contract::log_events()).ok);
        std::uint64_t seq = 7;
        for (int batch = 0; batch < 40; ++batch, seq += 256) {
            ASSERT_TRUE(store->append(events(seq, seq + 255)).ok);
        }
    }
    using PageCheck = journal::EventStore::PageCheck;
    // A second connection that only reads, as slotmatchd's checks open.
    std::unique_ptr<journal::EventStore> open_reader() {
        std::string why;
        auto reader = journal::open_reader("sqlite:" + path_, why);
        EXPECT_TRUE(reader) << why;
        return reader;
    }
    // Scans everything; how many events it passed before it stopped.
    static bool scan_all(const journal::EventStore& store, std::size_t& seen, std::string& why) {
        seen = 0;
        return store.scan(
            1,
            [&](const Event&) {
                ++seen;
                return true;
            },
            why);
    }
    // One statement on the file, from outside the store (a damaging hand, or a checkpoint).
    void sql(const char* statement) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        sqlite3_exec(db, statement, nullptr, nullptr, nullptr);
        sqlite3_close(db);
    }

    // One number from the log and audit entries file (PATH-entries), read from outside.
    std::int64_t entries_number(const char* query) const {
        sqlite3* db = nullptr;
        std::int64_t v = -1;
        sqlite3_stmt* s = nullptr;
        if (sqlite3_open((path_ + "-entries").c_str(), &db) == SQLITE_OK &&
            sqlite3_prepare_v2(db, query, -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
    }
    void entries_sql(const char* statement) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((path_ + "-entries").c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, statement, nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    // log_events() has 3 web log rows for unit 1 and 6 audit entries for its patient.
    void expect_complete_log_and_audit(const journal::EventStore& store) {
        std::vector<LogRow> rows;
        std::vector<Event> audited;
        std::string why;
        ASSERT_TRUE(store.web_log(UnitIdx{1}, Instant{0}, 100, rows, why)) << why;
        EXPECT_EQ(rows.size(), 3u);
        ASSERT_TRUE(store.audit(PatientKey{191212121212}, Instant{0}, 100, audited, why)) << why;
        EXPECT_EQ(audited.size(), 6u);
    }
    void expect_complete_entries() {
        EXPECT_EQ(entries_number("SELECT through FROM followed"), 6);
        EXPECT_EQ(entries_number("SELECT count(*) FROM web_log"), 3);
        EXPECT_EQ(entries_number("SELECT count(*) FROM audit"), 6);
    }

    std::filesystem::path dir_;
    std::string path_;
};

// The web booking log's and the audit's entries are written off the commit path, by the
// Follower into PATH-entries. A query never misses a committed event: it adds the events past
// what the entries have followed. An open catches up on what a crash left behind.
TEST_F(EventStore, QueriesNeverMissACommittedEventWhileTheEntriesFollowOffTheCommitPath) {
    const auto batch = contract::log_events();
    ASSERT_EQ(batch.size(), 6u);
    {
        auto store = open();
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->append(batch).ok);
        std::string why;
        auto reader = open_sqlite_store(path_, why, true);
        ASSERT_TRUE(reader) << why;
        expect_complete_log_and_audit(*reader);  // at once, followed or not
        for (int i = 0; i < 500 && entries_number("SELECT through FROM followed") != 6; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        expect_complete_entries();
    }
    // A crash before the follower wrote anything: the entries say so (followed 0).
    entries_sql("DELETE FROM web_log; DELETE FROM audit; UPDATE followed SET through = 0");
    {
        std::string why;
        auto reader = open_sqlite_store(path_, why, true);  // no writer: nobody follows
        ASSERT_TRUE(reader) << why;
        expect_complete_log_and_audit(*reader);  // from the events alone
        EXPECT_EQ(entries_number("SELECT count(*) FROM web_log"), 0);
    }
    // A crash half-way: the first four events followed (a transaction's worth).
    auto store = open();
    ASSERT_TRUE(store);
    expect_complete_entries();  // the open caught up before it returned
    store.reset();
    entries_sql(
        "DELETE FROM web_log WHERE seq > 4; DELETE FROM audit WHERE seq > 4;"
        "UPDATE followed SET through = 4");
    store = open();
    ASSERT_TRUE(store);
    expect_complete_entries();
    expect_complete_log_and_audit(*store);
}

// The entries are an index of the events: a missing, damaged or foreign file, or one ahead of
// the events, is made again from them at open, and said so when it was there but unusable.
TEST_F(EventStore, AMissingDamagedForeignOrAheadEntriesFileIsMadeAgainFromTheEvents) {
    {
        auto store = open();
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->append(contract::log_events()).ok);
    }
    const std::string entries = path_ + "-entries";
    const auto remove_entries = [&] {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(entries + suffix);
    };
    remove_entries();
    ASSERT_TRUE(open());
    expect_complete_entries();

    remove_entries();
    std::ofstream(entries) << std::string(8192, 'x');
    ASSERT_TRUE(open());
    expect_complete_entries();

    // Another store's entries file, with another history (one web booking for unit 1).
    const std::string other = (dir_ / "other.sqlite").string();
    {
        std::string why;
        auto store = open_sqlite_store(other, why);
        ASSERT_TRUE(store) << why;
        ASSERT_TRUE(store->claim_writer(why)) << why;  // it keeps its entries
        auto one = contract::log_events();
        one.resize(1);
        ASSERT_TRUE(store->append(one).ok);
    }
    remove_entries();
    std::filesystem::copy_file(other + "-entries", entries);
    ASSERT_TRUE(open());
    expect_complete_entries();

    // Ahead of the events (the store file put back from an older copy).
    entries_sql("UPDATE followed SET through = 100");
    ASSERT_TRUE(open());
    expect_complete_entries();
}

// A writer opened with WholeCheck::later (slotmatchd's start from a snapshot) does not check
// the entries at open; a reader's check_entries does it after the start. Damaged ones are
// marked, queries still answer from the events past the mark, and the writer's next open makes
// them again from the events.
TEST_F(EventStore, EntriesFoundDamagedAfterTheStartAreMadeAgainAtTheNextOpen) {
    ASSERT_NO_FATAL_FAILURE(fill_with_history());
    const std::string entries = path_ + "-entries";
    const auto pages = std::filesystem::file_size(entries) / 4096;
    ASSERT_GE(pages, 4u) << "too few entries to damage one page of";
    const std::filesystem::path intact = dir_ / "intact-entries";
    std::filesystem::copy_file(entries, intact);
    const std::string damage(4096, 'x');
    const auto still_damaged = [&] {
        std::ifstream in(entries, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), {});
        return bytes.find(damage) != std::string::npos;
    };
    // A page the open does not read (the open reads some, and makes damaged ones again at once,
    // as the test above shows): one of the entries' leaves.
    std::string why;
    std::unique_ptr<journal::EventStore> writer;
    for (auto page = pages - 1; page >= 1; --page) {
        writer.reset();
        for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(entries + suffix);
        std::filesystem::copy_file(intact, entries,
                                   std::filesystem::copy_options::overwrite_existing);
        {
            std::fstream file(entries, std::ios::in | std::ios::out | std::ios::binary);
            file.seekp(static_cast<std::streamoff>(page * 4096));
            file << damage;
        }
        writer = open_sqlite_store(path_, why, false, journal::WholeCheck::later);
        ASSERT_TRUE(writer) << why;
        ASSERT_TRUE(writer->claim_writer(why)) << why;  // no check of the entries: it starts
        if (still_damaged()) break;
    }
    ASSERT_TRUE(still_damaged()) << "every damaged page was found at open";
    auto reader = journal::open_reader("sqlite:" + path_, why);
    ASSERT_TRUE(reader) << why;
    EXPECT_EQ(reader->check_entries(why), journal::EventStore::PageCheck::damaged);
    EXPECT_NE(why.find("damaged"), std::string::npos) << why;
    EXPECT_TRUE(std::filesystem::exists(entries + "-damaged"));
    reader.reset();
    writer.reset();
    ASSERT_TRUE(open());  // made again from the events
    EXPECT_FALSE(std::filesystem::exists(entries + "-damaged"));
    reader = journal::open_reader("sqlite:" + path_, why);
    ASSERT_TRUE(reader) << why;
    EXPECT_EQ(reader->check_entries(why), journal::EventStore::PageCheck::sound) << why;
    EXPECT_EQ(entries_number("SELECT through FROM followed"),
              static_cast<std::int64_t>(6 + 40 * 256));
}

// Damage that only the catch-up at open meets: the open reads no page of the entries' tables
// and, from a snapshot, checks none. The entries are made again at once and the writer starts
// (before, every start failed on them).
TEST_F(EventStore, EntriesFoundDamagedByTheCatchUpAreMadeAgainAtOnce) {
    ASSERT_NO_FATAL_FAILURE(fill_with_history());
    const std::string entries = path_ + "-entries";
    const std::int64_t log_rows = entries_number("SELECT count(*) FROM web_log");
    ASSERT_GT(log_rows, 3) << "the later events make no log entries to catch up on";
    // Behind the events (a crash before the follower's last steps), compacted: the log's table
    // then fits its root page, which the catch-up's first entry reads.
    entries_sql(
        "DELETE FROM web_log WHERE seq > 6; DELETE FROM audit WHERE seq > 6;"
        "UPDATE followed SET through = 6; VACUUM");
    const std::int64_t root =
        entries_number("SELECT rootpage FROM sqlite_master WHERE name = 'web_log'");
    ASSERT_GT(root, 1);
    damage_page(entries, static_cast<std::uint64_t>(root - 1));
    std::string why;
    std::string said;
    std::unique_ptr<journal::EventStore> writer;
    ASSERT_TRUE(claim_later(writer, why, said)) << why << said;
    EXPECT_NE(said.find("writing the log and audit entries"), std::string::npos) << said;
    EXPECT_NE(said.find("again from the events"), std::string::npos) << said;
    writer.reset();
    EXPECT_EQ(entries_number("SELECT through FROM followed"),
              static_cast<std::int64_t>(6 + 40 * 256));
    EXPECT_EQ(entries_number("SELECT count(*) FROM web_log"), log_rows);
    auto reader = journal::open_reader("sqlite:" + path_, why);
    ASSERT_TRUE(reader) << why;
    EXPECT_EQ(reader->check_entries(why), journal::EventStore::PageCheck::sound) << why;
}

// Damage the catch-up meets in the events it reads, not in the entries: the entries are left as
// they are (not made again from 10 M events, which would fail the same way), and the start
// fails, saying where the damage is.
TEST_F(EventStore, DamagedEventsMetByTheCatchUpLeaveTheEntriesAlone) {
    ASSERT_NO_FATAL_FAILURE(fill_with_history());
    const std::string entries = path_ + "-entries";
    entries_sql(
        "DELETE FROM web_log WHERE seq > 6; DELETE FROM audit WHERE seq > 6;"
        "UPDATE followed SET through = 6");
    const std::filesystem::path intact = dir_ / "intact.sqlite";
    const std::filesystem::path intact_entries = dir_ / "intact.sqlite-entries";
    std::filesystem::copy_file(path_, intact);
    std::filesystem::copy_file(entries, intact_entries);
    const auto pages = std::filesystem::file_size(path_) / 4096;
    bool met = false;
    // A page of the events that the writer's open does not read and the catch-up does.
    for (auto page = pages - 1; page >= 1 && !met; --page) {
        for (const std::string& file : {path_, entries}) {
            for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(file + suffix);
        }
        std::filesystem::copy_file(intact, path_, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::copy_file(intact_entries, entries,
                                   std::filesystem::copy_options::overwrite_existing);
        damage_page(path_, page);
        std::string why;
        std::string said;
        std::unique_ptr<journal::EventStore> writer;
        const bool claimed = claim_later(writer, why, said);
        if (!writer || claimed) continue;  // the open read it, or the catch-up did not
        met = true;
        EXPECT_NE(why.find("the damage is in the events"), std::string::npos) << why;
        EXPECT_EQ(said.find("again from the events"), std::string::npos) << said;
        writer.reset();
        EXPECT_EQ(entries_number("SELECT through FROM followed"), 6);
        EXPECT_EQ(entries_number("SELECT count(*) FROM web_log"), 3);
    }
    EXPECT_TRUE(met) << "no damaged page of the events was met by the catch-up alone";
}

// A check cut short (slotmatchd's stop interrupts it: a national store's whole check took
// minutes) is not done, which is not damage: nothing is marked, and the next check passes.
TEST_F(EventStore, ACheckCutShortIsNotDamage) {
    ASSERT_NO_FATAL_FAILURE(fill_with_history());
    auto writer = open();
    ASSERT_TRUE(writer);
    auto reader = open_reader();
    ASSERT_TRUE(reader);
    std::string why;
    using Check = std::function<PageCheck(std::string&)>;
    for (const Check& run_check :
         {Check([&](std::string& w) { return reader->check_whole(w); }),
          Check([&](std::string& w) { return reader->check_entries(w); })}) {
        // Interrupted while it runs (an interrupt between statements is lost: tried again).
        PageCheck found = PageCheck::sound;
        for (int attempt = 0; attempt < 20 && found == PageCheck::sound; ++attempt) {
            std::atomic<bool> checked{false};
            std::thread stopper([&] {
                while (!checked.load()) reader->interrupt();
            });
            why.clear();
            found = run_check(why);
            checked.store(true);
            stopper.join();
        }
        EXPECT_EQ(found, PageCheck::not_done) << why;
        EXPECT_NE(why.find("interrupted"), std::string::npos) << why;
        EXPECT_FALSE(std::filesystem::exists(path_ + "-entries-damaged"));
        EXPECT_EQ(run_check(why), PageCheck::sound) << why;
    }
}

// The whole check is one read, and while it lasts the checkpoints cannot reset the WAL (under
// load it grew by every commit for minutes, and the next start after kill -9 read all of it).
// So it gives way once the WAL has grown by its bound while it runs (0 bytes here), says so,
// and marks nothing; with nothing written meanwhile it runs to its end.
TEST_F(EventStore, AWholeCheckGivesWayToAGrowingWal) {
    ASSERT_NO_FATAL_FAILURE(fill_with_history());
    // Pages enough for the check to take a while: 1 M rows of 100 bytes beside the events.
    sql("CREATE TABLE pad(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
        "WHERE i < 1000000) INSERT INTO pad SELECT randomblob(100) FROM c;");
    auto writer = open();
    ASSERT_TRUE(writer);
    auto reader = open_reader();
    ASSERT_TRUE(reader);
    std::string why;
    PageCheck found = PageCheck::sound;
    std::uint64_t seq = writer->last_seq() + 1;
    bool appended = true;
    for (int attempt = 0; attempt < 10 && appended && found != PageCheck::not_done; ++attempt) {
        std::atomic<bool> checked{false};
        std::thread check([&] {
            found = reader->check_whole(why, 0);
            checked.store(true);
        });
        while (appended && !checked.load()) {
            appended = writer->append(events(seq, seq + 255)).ok;
            seq += 256;
        }
        check.join();
    }
    ASSERT_TRUE(appended);
    EXPECT_EQ(found, PageCheck::not_done) << why;
    EXPECT_NE(why.find("gave way to the WAL"), std::string::npos) << why;
    EXPECT_FALSE(std::filesystem::exists(path_ + "-entries-damaged"));
    EXPECT_EQ(reader->check_whole(why, 0), PageCheck::sound) << why;
}

TEST_F(EventStore, TheLogIsFoldedIntoTheMainFileOffTheCommitPath) {
    // The Checkpointer folds the WAL into the main file once it holds 16 MiB; SQLite's own
    // checkpoint at a commit is off, so without the thread the main file would not grow.
    auto store = open();
    ASSERT_TRUE(store);
    const auto main_size = [&] { return std::filesystem::file_size(path_); };
    const auto before = main_size();
    std::uint64_t seq = 1;
    for (int batch = 0; batch < 200; ++batch, seq += 256) {
        ASSERT_TRUE(store->append(events(seq, seq + 255)).ok);
    }
    for (int i = 0; i < 200 && main_size() < before + (1u << 20); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE(main_size(), before + (1u << 20)) << "no checkpoint reached the main file";
    // The log is bounded: what was folded in is written over, not appended after.
    EXPECT_LT(std::filesystem::file_size(path_ + "-wal"), std::uintmax_t{64} << 20);
    std::size_t seen = 0;
    std::string why;
    ASSERT_TRUE(scan_all(*store, seen, why)) << why;
    EXPECT_EQ(seen, seq - 1);
}

TEST_F(EventStore, AFileThatIsNotAStoreIsRefused) {
    std::ofstream(path_) << std::string(8192, 'x');
    std::string why;
    EXPECT_FALSE(open_sqlite_store(path_, why));
    EXPECT_NE(why.find("not a slotmatch store"), std::string::npos) << why;
}

TEST_F(EventStore, ADamagedEventIsRefusedWithItsNumber) {
    ASSERT_TRUE(open()->append(events(1, 20)).ok);
    sql("UPDATE events SET body = x'0badf00d' WHERE seq = 7");
    auto store = open();
    std::string why;
    std::size_t seen = 0;
    EXPECT_FALSE(scan_all(*store, seen, why));
    EXPECT_EQ(seen, 6u);
    EXPECT_NE(why.find("event 7 is damaged"), std::string::npos) << why;
}

// An event that verifies but holds a value no slotmatch writes (a flipped bit in its kind) is
// refused too, with its number.
TEST_F(EventStore, AnEventWithAnUnknownKindIsRefusedWithItsNumber) {
    auto store = open();
    ASSERT_TRUE(store->append(events(1, 3)).ok);
    flatbuffers::FlatBufferBuilder b;
    wire::EventBuilder odd(b);
    odd.add_seq(2);
    odd.add_kind(static_cast<wire::EventKind>(200));
    b.Finish(odd.Finish());
    std::string hex;
    for (std::size_t k = 0; k < b.GetSize(); ++k) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", b.GetBufferPointer()[k]);
        hex += two;
    }
    store.reset();
    sql(("UPDATE events SET body = x'" + hex + "' WHERE seq = 2").c_str());
    store = open();
    std::string why;
    std::size_t seen = 0;
    EXPECT_FALSE(scan_all(*store, seen, why));
    EXPECT_EQ(seen, 1u);
    EXPECT_NE(why.find("event 2 is damaged (a kind"), std::string::npos) << why;
}

TEST_F(EventStore, ATruncatedStoreIsRefused) {
    {
        auto store = open();
        for (std::uint64_t first = 1; first <= 4000; first += 1000) {
            ASSERT_TRUE(store->append(events(first, first + 999)).ok);
        }
        // Fold the write-ahead log into the main file, as a clean shutdown does.
        sql("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    const auto size = std::filesystem::file_size(path_);
    std::filesystem::resize_file(path_, size / 2);  // a torn copy
    std::string why;
    auto store = open_sqlite_store(path_, why);
    if (store) {  // SQLite may open it; reading it must then fail, not return half a log
        std::size_t seen = 0;
        EXPECT_FALSE(scan_all(*store, seen, why));
        EXPECT_LT(seen, 4000u);
    }
    // The message names the damage.
    EXPECT_TRUE(why.find("damaged") != std::string::npos ||
                why.find("not a slotmatch store") != std::string::npos)
        << why;
}

}  // namespace
}  // namespace slotmatch::journal

namespace slotmatch::journal::contract {
namespace {

struct SqliteTraits {
    static std::string fresh_address() {
        static int n = 0;
        const auto path =
            slotmatch::testing::process_temp_dir() / ("store-" + std::to_string(++n) + ".sqlite");
        return "sqlite:" + path.string();
    }
    static void mark_newer_schema(const std::string& address) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(address.substr(7).c_str(), &db), SQLITE_OK);
        sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'later')", nullptr, nullptr,
                     nullptr);
        sqlite3_close(db);
    }
    static void run_sql(const std::string& address, const std::string& sql) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(address.substr(7).c_str(), &db), SQLITE_OK);
        EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
};
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, SqliteTraits);

}  // namespace
}  // namespace slotmatch::journal::contract
