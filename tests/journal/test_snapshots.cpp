// Snapshots of a store's history (issue 14, tools/journal/snapshot.hpp), on a real SQLite store
// with the events of a real engine: made from the committed events, each from the one before;
// read back only when whole and this store's; recovery from one and the events after it gives
// the state a replay of every event gives.
#include <mutex>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "engine_fixture.hpp"
#include "event_store.hpp"
#include "snapshot.hpp"
#include "temp_dir.hpp"

namespace slotmatch::testing {
namespace {

using journal::FileShelf;

class Snapshots : public RuleRegion {
  protected:
    void SetUp() override {
        RuleRegion::SetUp();
        dir_ = fresh_temp_dir("snapshots");
        address_ = "sqlite:" + (dir_ / "store.sqlite").string();
        std::string why;
        store_ = journal::open_store(address_, why);
        ASSERT_TRUE(store_) << why;
        shelf_.emplace((dir_ / "store.sqlite-snapshots"));
        for (std::uint32_t i = 0; i < engine->slot_count() && future_.size() < 60; ++i) {
            const auto v = engine->slot(SlotId{i});
            if (v->unit == unit("u1") && v->start.value > engine->now().value) {
                future_.push_back(v->id);
            }
        }
        ASSERT_EQ(future_.size(), 60u);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    // Some bookings, cancellations, holds and a waitlist entry, committed to the store.
    void some_history(int seed, int n) {
        std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
        for (int i = 0; i < n; ++i) {
            const SlotId s = future_[rng() % future_.size()];
            const PatientKey p = patient(static_cast<int>(rng() % 50));
            switch (rng() % 4) {
                case 0:
                case 1:
                    if (auto r = book(staff(), s, p); r.ok()) bookings_.push_back(r.value.id);
                    break;
                case 2:
                    if (!bookings_.empty()) {
                        (void)engine->cancel(staff(), bookings_[rng() % bookings_.size()], {});
                    }
                    break;
                default:
                    (void)engine->hold(web(), s, p);
            }
        }
        (void)engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(seed));
        std::vector<Event> out(4096);
        while (std::size_t got = engine->events().drain(out)) {
            const auto r = store_->append(std::span(out.data(), got));
            ASSERT_TRUE(r.ok) << r.error;
        }
    }
    // A new engine recovered from the store: from `snapshot` and the events after it, or
    // from every event.
    std::uint64_t recovered_hash(const journal::Snapshot* snapshot) {
        auto loaded = load_region_text(rule_region_yaml, "rule-region");
        Engine e(std::move(*loaded.catalog), *clock, limits());
        std::string why;
        const std::uint64_t after = snapshot ? snapshot->fold.seq : 0;
        const auto summary = e.restore(
            [&](const std::function<bool(const Event&)>& visit, std::string& problem) {
                ConfigArena configs;
                bool stopped = false;
                if (snapshot && !snapshot->each_kept(
                                    [&](const Event& ev) { return !(stopped = !visit(ev)); },
                                    problem, &configs)) {
                    return false;
                }
                return stopped || store_->scan(after + 1, visit, problem);
            },
            why, snapshot ? &snapshot->fold : nullptr);
        EXPECT_TRUE(summary) << why;
        return e.state_hash();
    }

    std::filesystem::path dir_;
    std::string address_;
    std::unique_ptr<journal::EventStore> store_;
    std::optional<FileShelf> shelf_;
    std::vector<BookingId> bookings_;
    std::vector<SlotId> future_;  // slots of u1 that start after now
};

// A start that parsed its region file (it changed, or another build made the snapshot) has the
// Snapshotter make the newest snapshot again with the file's image, so that the next start
// reads the catalog from it even with no event since: same event, same fold, the new image.
TEST_F(Snapshots, ANewRegionImageMakesTheNewestAgainWithIt) {
    std::string why;
    ASSERT_TRUE(store_->claim_writer(why)) << why;  // as slotmatchd's: its readers see entries
    some_history(4, 300);
    ASSERT_TRUE(journal::make_snapshot(*store_, *shelf_, why, "image of the old file")) << why;
    const std::uint64_t seq = store_->last_seq();
    // Nothing new and no new image: the newest stands.
    const auto same = journal::make_snapshot(*store_, *shelf_, why, "image of the new file");
    ASSERT_TRUE(same) << why;
    EXPECT_EQ(journal::read_snapshot(*shelf_, seq, *store_, why)->region, "image of the old file");
    std::vector<std::string> said;
    std::mutex said_mutex;
    {
        journal::Snapshotter snapshots(
            address_, 0, {},
            [&](const std::string& line) {
                std::lock_guard lock(said_mutex);
                said.push_back(line);
            },
            "image of the new file", true);
        snapshots.finish();
    }
    const auto made = journal::read_snapshot(*shelf_, seq, *store_, why);
    ASSERT_TRUE(made) << why;
    EXPECT_EQ(made->region, "image of the new file");
    EXPECT_EQ(shelf_->seqs(), (std::vector<std::uint64_t>{seq}));
    ASSERT_EQ(said.size(), 1u);
    EXPECT_NE(said[0].find("made again with the region file as it is now"), std::string::npos)
        << said[0];
    EXPECT_EQ(recovered_hash(&*made), engine->state_hash());
}

TEST_F(Snapshots, EachIsFoldedFromTheOneBeforeAndRecoversTheWholeHistory) {
    some_history(1, 400);
    std::string why;
    const auto first = journal::make_snapshot(*store_, *shelf_, why);
    ASSERT_TRUE(first) << why;
    EXPECT_EQ(first->from, 0u);
    EXPECT_EQ(first->seq, store_->last_seq());
    EXPECT_EQ(first->events_read, store_->last_seq());
    EXPECT_LT(first->kept, first->events_read);
    some_history(2, 400);
    const auto second = journal::make_snapshot(*store_, *shelf_, why);
    ASSERT_TRUE(second) << why;
    EXPECT_EQ(second->from, first->seq);
    EXPECT_EQ(second->events_read, store_->last_seq() - first->seq);
    // Nothing new: the newest stands.
    const auto again = journal::make_snapshot(*store_, *shelf_, why);
    ASSERT_TRUE(again) << why;
    EXPECT_EQ(again->seq, second->seq);
    EXPECT_EQ(again->events_read, 0u);
    EXPECT_EQ(shelf_->seqs(), (std::vector<std::uint64_t>{second->seq, first->seq}));

    some_history(3, 300);  // the events after the newest snapshot
    const std::uint64_t whole = engine->state_hash();
    EXPECT_EQ(recovered_hash(nullptr), whole);
    for (const std::uint64_t seq : shelf_->seqs()) {
        const auto snap = journal::read_snapshot(*shelf_, seq, *store_, why);
        ASSERT_TRUE(snap) << why;
        EXPECT_EQ(recovered_hash(&*snap), whole) << "from the snapshot at " << seq;
    }
    // A third: the oldest goes (two are kept).
    ASSERT_TRUE(journal::make_snapshot(*store_, *shelf_, why)) << why;
    EXPECT_EQ(shelf_->seqs().size(), journal::snapshots_kept);
}

// A standby's following (slotmatchd --standby): the committed events folded in memory a few at
// a time, from the newest snapshot, recover the state a replay of every event gives. A store
// that no longer holds the last event folded, as it was folded (another history under the same
// numbers), is not followed on: the fold is refused, saying why, and left as it was.
TEST_F(Snapshots, FollowingAStoreInStepsRecoversTheWholeHistoryAndStopsAtAnotherOne) {
    some_history(1, 100);
    std::string why;
    ASSERT_TRUE(journal::make_snapshot(*store_, *shelf_, why)) << why;
    std::optional<journal::Snapshot> followed =
        journal::newest_snapshot(*shelf_, *store_, [](const std::string&) {});
    ASSERT_TRUE(followed);
    std::size_t read = 0;
    ASSERT_TRUE(journal::fold_forward(*store_, followed, read, why)) << why;
    EXPECT_EQ(read, 0u);  // nothing new
    for (int step = 2; step <= 4; ++step) {
        some_history(step, 100);
        ASSERT_TRUE(journal::fold_forward(*store_, followed, read, why)) << why;
        EXPECT_GT(read, 0u);
        EXPECT_EQ(followed->fold.seq, store_->last_seq());
        EXPECT_EQ(followed->file_bytes, 0u);  // in memory
    }
    EXPECT_EQ(recovered_hash(&*followed), recovered_hash(nullptr));
    EXPECT_EQ(recovered_hash(&*followed), engine->state_hash());

    // Another store under the same numbers.
    const std::filesystem::path other_dir = dir_ / "other";
    std::filesystem::create_directories(other_dir);
    auto other = journal::open_store("sqlite:" + (other_dir / "store.sqlite").string(), why);
    ASSERT_TRUE(other) << why;
    std::vector<Event> foreign;
    for (std::uint64_t s = 1; s <= store_->last_seq() + 5; ++s) {
        Event e;
        e.seq = s;
        e.kind = EventKind::accessed;
        e.time = Instant{1'772'431'200};
        foreign.push_back(e);
    }
    ASSERT_TRUE(other->append(foreign).ok);
    const std::uint64_t at = followed->fold.seq;
    why.clear();
    EXPECT_FALSE(journal::fold_forward(*other, followed, read, why));
    EXPECT_NE(why.find("is not the one folded"), std::string::npos) << why;
    EXPECT_EQ(followed->fold.seq, at);
}

TEST_F(Snapshots, ADamagedOrForeignOneIsPassedOverSayingWhy) {
    some_history(1, 200);
    std::string why;
    const auto older = journal::make_snapshot(*store_, *shelf_, why);
    ASSERT_TRUE(older) << why;
    some_history(2, 200);
    const auto newer = journal::make_snapshot(*store_, *shelf_, why);
    ASSERT_TRUE(newer) << why;
    const std::filesystem::path file = shelf_->file(newer->seq);
    const auto size = std::filesystem::file_size(file);

    // Cut short.
    std::filesystem::resize_file(file, size - 100);
    std::vector<std::string> said;
    auto picked = journal::newest_snapshot(*shelf_, *store_,
                                           [&](const std::string& s) { said.push_back(s); });
    ASSERT_TRUE(picked);
    EXPECT_EQ(picked->fold.seq, older->seq);
    ASSERT_EQ(said.size(), 1u);
    EXPECT_NE(said[0].find("checksum does not match"), std::string::npos) << said[0];

    // Not a snapshot at all.
    std::ofstream(file, std::ios::trunc) << "hello";
    EXPECT_FALSE(journal::read_snapshot(*shelf_, newer->seq, *store_, why));
    EXPECT_NE(why.find("not a slotmatch snapshot"), std::string::npos) << why;

    // Another store's history: the same numbers, other events.
    std::string other_why;
    const std::filesystem::path other_dir = dir_ / "other";
    std::filesystem::create_directories(other_dir);
    const std::string other_address = "sqlite:" + (other_dir / "store.sqlite").string();
    auto other = journal::open_store(other_address, other_why);
    ASSERT_TRUE(other) << other_why;
    std::vector<Event> foreign;
    for (std::uint64_t s = 1; s <= store_->last_seq(); ++s) {
        Event e;
        e.seq = s;
        e.kind = EventKind::accessed;
        e.time = Instant{1'772'431'200};
        foreign.push_back(e);
    }
    const auto appended = other->append(foreign);
    ASSERT_TRUE(appended.ok) << appended.error;
    const FileShelf other_shelf(other_dir / "store.sqlite-snapshots");
    std::filesystem::create_directories(other_shelf.dir());
    std::filesystem::copy_file(shelf_->file(older->seq), other_shelf.file(older->seq));
    EXPECT_FALSE(journal::read_snapshot(other_shelf, older->seq, *other, why));
    EXPECT_NE(why.find("not the one it was made from"), std::string::npos) << why;

    // Ahead of a store that holds fewer events.
    other.reset();
    std::filesystem::remove_all(other_dir);
    std::filesystem::create_directories(other_dir);
    other = journal::open_store(other_address, other_why);
    ASSERT_TRUE(other) << other_why;
    foreign.resize(10);
    ASSERT_TRUE(other->append(foreign).ok);
    std::filesystem::create_directories(other_shelf.dir());
    std::filesystem::copy_file(shelf_->file(older->seq), other_shelf.file(older->seq));
    EXPECT_FALSE(journal::read_snapshot(other_shelf, older->seq, *other, why));
    EXPECT_NE(why.find("ahead of the store"), std::string::npos) << why;

    // Under another number than its own.
    std::filesystem::copy_file(shelf_->file(older->seq), shelf_->file(older->seq + 1));
    EXPECT_FALSE(journal::read_snapshot(*shelf_, older->seq + 1, *store_, why));
    EXPECT_NE(why.find("says it is the snapshot at event"), std::string::npos) << why;
}

}  // namespace
}  // namespace slotmatch::testing
