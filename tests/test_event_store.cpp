// The journal's SQLite event store on real files: order and content survive a reopen, resent
// events are skipped, a gap is refused whole, the schema is versioned, and a damaged store is
// refused with a message that names the damage.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "event_store.hpp"

namespace slotmatch::journal {
namespace {

class EventStore : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("slotmatch-store-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / "journal.sqlite").string();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::unique_ptr<SqliteStore> open() {
        std::string why;
        auto store = SqliteStore::open(path_, why);
        EXPECT_TRUE(store) << why;
        return store;
    }
    static Event event(std::uint64_t seq) {
        Event e;
        e.seq = seq;
        e.time = Instant{1'772'431'200 + static_cast<std::int64_t>(seq)};
        e.kind = seq % 2 ? EventKind::booked : EventKind::cancelled;
        e.channel = Channel::web;
        e.actor = ActorText::from("1177-gateway");
        e.unit = UnitIdx{static_cast<std::uint32_t>(seq % 3)};
        e.resource = ResourceIdx{7};
        e.booking = BookingId{seq * 10};
        e.patient = PatientKey{191212121212};
        e.after.slot = SlotId{static_cast<std::uint32_t>(seq)};
        e.after.state = SlotState::booked;
        e.reason = ReasonText::from("Ont i örat");
        return e;
    }
    static std::vector<Event> events(std::uint64_t first, std::uint64_t last) {
        std::vector<Event> v;
        for (std::uint64_t s = first; s <= last; ++s) v.push_back(event(s));
        return v;
    }
    std::vector<Event> stored(SqliteStore& store) {
        std::vector<Event> out;
        std::string why;
        EXPECT_TRUE(store.scan(
            1,
            [&](const Event& e) {
                out.push_back(e);
                return true;
            },
            why))
            << why;
        return out;
    }

    // Scans everything; how many events it passed before it stopped.
    static bool scan_all(const SqliteStore& store, std::size_t& seen, std::string& why) {
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

    std::filesystem::path dir_;
    std::string path_;
};

TEST_F(EventStore, EventsSurviveAReopenInOrderWithTheirContent) {
    {
        auto store = open();
        const auto r = store->append(events(1, 1000));
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.appended, 1000u);
        EXPECT_EQ(r.committed_through, 1000u);
    }
    auto store = open();
    EXPECT_EQ(store->last_seq(), 1000u);
    const auto all = stored(*store);
    ASSERT_EQ(all.size(), 1000u);
    for (std::uint64_t i = 0; i < all.size(); ++i) {
        const Event want = event(i + 1);
        EXPECT_EQ(all[i].seq, want.seq);
        EXPECT_EQ(all[i].kind, want.kind);
        EXPECT_EQ(all[i].time, want.time);
        EXPECT_EQ(all[i].booking, want.booking);
        EXPECT_EQ(all[i].after.slot, want.after.slot);
        EXPECT_EQ(all[i].reason.view(), "Ont i örat");
        EXPECT_EQ(all[i].actor.view(), "1177-gateway");
    }
}

TEST_F(EventStore, ResentEventsAreSkippedByTheirSequenceNumber) {
    auto store = open();
    ASSERT_TRUE(store->append(events(1, 10)).ok);
    const auto r = store->append(events(5, 15));  // a resend after a lost acknowledgement
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.duplicates, 6u);
    EXPECT_EQ(r.appended, 5u);
    EXPECT_EQ(r.committed_through, 15u);
    EXPECT_EQ(stored(*store).size(), 15u);
}

TEST_F(EventStore, AGapIsRefusedWholeAndNamesTheMissingNumber) {
    auto store = open();
    ASSERT_TRUE(store->append(events(1, 10)).ok);
    auto batch = events(11, 20);
    batch.erase(batch.begin() + 3);  // 14 is missing
    const auto r = store->append(batch);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.gap_expected, 14u);
    EXPECT_NE(r.error.find("expected 14"), std::string::npos) << r.error;
    EXPECT_EQ(store->last_seq(), 10u);
    EXPECT_EQ(stored(*store).size(), 10u);  // 11..13 were not kept either
}

TEST_F(EventStore, TheSchemaIsVersionedAndMigratedOnce) {
    open();
    auto store = open();  // a second open migrates nothing
    EXPECT_EQ(store->version(), schema_version);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &s, nullptr);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(s, 0), schema_version);
    sqlite3_finalize(s);
    sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'later')", nullptr, nullptr,
                 nullptr);
    sqlite3_close(db);
    store.reset();
    std::string why;
    EXPECT_FALSE(SqliteStore::open(path_, why));
    EXPECT_NE(why.find("schema version 99"), std::string::npos) << why;
}

TEST_F(EventStore, AFileThatIsNotAStoreIsRefused) {
    std::ofstream(path_) << std::string(8192, 'x');
    std::string why;
    EXPECT_FALSE(SqliteStore::open(path_, why));
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
    auto store = SqliteStore::open(path_, why);
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
