// Blocking events over a region's life (issue 11, point 4; R13, R14): a block's record is freed
// when it ends, by staff or by the sweep once its end has passed, and reused, so no count over
// a store's life fills the table or stops a start; an old block id never reaches a later block.
#include <atomic>
#include <deque>
#include <set>
#include <slotmatch/failpoint.hpp>
#include <thread>

#include "store_history.hpp"

namespace slotmatch::testing {
namespace {

class Blocks : public StoreHistory {
  protected:
    EngineLimits limits() const override {
        EngineLimits l;
        l.blocks_max = 4;
        return l;
    }
    Outcome<BlockResult> block(const char* res, const char* from, const char* to) {
        return engine->block(staff(), resource(res), at(from), at(to), "utbildning");
    }
};

// Three blocks active at once in a table of four, the oldest ended as a new one starts, so
// every record is reused in turn at its own generation; a restart puts the three still active
// back in their records.
TEST_F(Blocks, ManyBlockAndUnblockCyclesNeverFillTheTableAndARestartFollows) {
    static constexpr const char* days[3][2] = {{"2026-03-03T08:00", "2026-03-03T09:00"},
                                               {"2026-03-04T08:00", "2026-03-04T09:00"},
                                               {"2026-03-05T08:00", "2026-03-05T09:00"}};
    std::deque<BlockId> active;
    std::set<std::uint64_t> records;
    for (int n = 0; n < 5000; ++n) {
        const auto& day = days[n % 3];
        const SlotId s = slot("r1", "all3", day[0]);
        const bool overlap = n % 2 == 1;       // the new block starts before the oldest ends: four
        if (active.size() == 3 && !overlap) {  // the oldest lies on this day
            const auto u = engine->unblock(staff(), active.front());
            ASSERT_TRUE(u.ok()) << "cycle " << n << ": " << u.message;
            active.pop_front();
            ASSERT_EQ(engine->slot(s)->state, SlotState::free);
        }
        const auto k = block("r1", day[0], day[1]);
        ASSERT_TRUE(k.ok()) << "cycle " << n << ": " << k.message;
        ASSERT_EQ(engine->slot(s)->state, SlotState::blocked);
        active.push_back(k.value.id);
        if (active.size() == 4) {
            ASSERT_TRUE(engine->unblock(staff(), active.front()).ok()) << "cycle " << n;
            active.pop_front();
            ASSERT_EQ(engine->slot(s)->state, SlotState::blocked) << "the new block covers it";
        }
        records.insert(k.value.id.value & ((std::uint64_t{1} << 40) - 1));
        if (n % 1000 == 0) collect(*engine);
    }
    EXPECT_EQ(records.size(), 4U) << "every record of the table was reused";
    collect(*engine);
    auto copy = from_store(rule_region_yaml);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(last.blocks, 3U);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    for (const auto& day : days) {
        EXPECT_EQ(copy->slot(slot("r1", "all3", day[0]))->state, SlotState::blocked);
    }
    for (BlockId id : active) ASSERT_TRUE(copy->unblock(staff(), id).ok());
    const auto kept =
        copy->block(staff(), resource("r2"), at("2026-03-04T08:00"), at("2026-03-04T09:00"), "");
    ASSERT_TRUE(kept.ok());
    // The restarted engine ends the block by its id, and reuses the records as well.
    ASSERT_TRUE(copy->unblock(staff(), kept.value.id).ok());
    for (int n = 0; n < 10; ++n) {
        const auto k = copy->block(staff(), resource("r1"), at("2026-03-05T08:00"),
                                   at("2026-03-05T09:00"), "");
        ASSERT_TRUE(k.ok()) << k.message;
        ASSERT_TRUE(copy->unblock(staff(), k.value.id).ok());
    }
}

TEST_F(Blocks, AnOldIdNeverReachesALaterBlockInItsRecord) {
    const auto first = block("r1", "2026-03-03T08:00", "2026-03-03T09:00");
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(engine->unblock(staff(), first.value.id).ok());
    const auto again = engine->unblock(staff(), first.value.id);
    EXPECT_EQ(again.code, ErrorCode::invalid_request);
    const auto second = block("r2", "2026-03-04T08:00", "2026-03-04T09:00");
    ASSERT_TRUE(second.ok());
    EXPECT_NE(second.value.id, first.value.id);
    EXPECT_EQ(engine->unblock(staff(), first.value.id).code, ErrorCode::invalid_request);
    EXPECT_EQ(engine->slot(slot("r2", "all3", "2026-03-04T08:00"))->state, SlotState::blocked);
    EXPECT_EQ(engine->unblock(staff("u2"), second.value.id).code, ErrorCode::unauthorized);
}

// A block whose end has passed is ended by the sweep ("slotmatch" in its event), which frees
// its record: a full table takes a new block after it. A restart agrees.
TEST_F(Blocks, APastBlockIsEndedByTheSweepAndItsRecordReused) {
    for (int day = 3; day <= 6; ++day) {
        const std::string from = "2026-03-0" + std::to_string(day) + "T08:00";
        const std::string to = "2026-03-0" + std::to_string(day) + "T09:00";
        ASSERT_TRUE(block("r1", from.c_str(), to.c_str()).ok());
    }
    EXPECT_EQ(block("r2", "2026-03-09T08:00", "2026-03-09T09:00").code, ErrorCode::overloaded);
    EXPECT_EQ(engine->end_past_blocks(), 0U);  // none has ended yet
    clock->set(at("2026-03-04T09:00:00+01:00"));
    collect(*engine);
    const std::size_t before = log.size();
    EXPECT_EQ(engine->end_past_blocks(), 2U);  // the 3rd's and the 4th's
    collect(*engine);
    ASSERT_EQ(log.size(), before + 2);
    EXPECT_EQ(log.back().kind, EventKind::unblocked);
    EXPECT_EQ(log.back().actor.view(), "slotmatch");
    EXPECT_EQ(engine->slot(slot("r1", "all3", "2026-03-05T08:00"))->state, SlotState::blocked);
    ASSERT_TRUE(block("r2", "2026-03-09T08:00", "2026-03-09T09:00").ok());
    collect(*engine);
    auto copy = from_store(rule_region_yaml);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(last.blocks, 3U);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
}

// An unblock inside a cancel, and the freed record taken at once by a block elsewhere: the
// cancel leaves its slot free, not blocked by the record's next life.
TEST_F(Blocks, R13_AReusedRecordDoesNotBlockTheSlotOfTheBlockBefore) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto a = book(staff(), s, patient(1));
    ASSERT_TRUE(a.ok());
    const auto k = block("r1", "2026-03-03T08:00", "2026-03-03T08:20");
    ASSERT_TRUE(k.ok());
    failpoint::set("release_source:before_cas", [&] {
        ASSERT_TRUE(engine->unblock(staff(), k.value.id).ok());
        ASSERT_TRUE(block("r2", "2026-03-03T08:00", "2026-03-03T08:20").ok());
    });
    ASSERT_TRUE(engine->cancel(staff(), a.value.id, {}).ok());
    failpoint::set("release_source:before_cas", {});
    EXPECT_EQ(engine->slot(s)->state, SlotState::free);
    EXPECT_TRUE(book(web(), s, patient(2)).ok());
    EXPECT_EQ(engine->slot(slot("r2", "all3", "2026-03-03T08:00"))->state, SlotState::blocked);
}

// Citizens book and cancel on r1 while staff block and unblock its mornings through a table
// of four records: once every block has ended, no slot is left blocked.
TEST_F(Blocks, BookingsRacingBlocksThatReuseRecordsLeaveNoSlotBlocked) {
    constexpr int citizens = 3;
    constexpr int cycles = 400;  // book and cancel, per citizen
    std::atomic<int> running{citizens};
    std::vector<std::thread> threads;
    for (int t = 0; t < citizens; ++t) {
        threads.emplace_back([&, t] {
            const char* times[] = {"2026-03-03T08:00", "2026-03-03T08:20", "2026-03-03T08:40"};
            const SlotId s = slot("r1", "all3", times[t]);
            for (int n = 0; n < cycles; ++n) {
                std::this_thread::yield();  // two cores: leave the staff thread its turns
                const auto b = book(web(), s, patient(t));
                if (!b.ok()) continue;  // blocked, or the event buffer waits for a drain
                ErrorCode c;
                while ((c = engine->cancel(web(), b.value.id, patient(t)).code) ==
                       ErrorCode::overloaded) {
                    std::this_thread::yield();
                }
                if (c != ErrorCode::ok) {
                    ADD_FAILURE() << "cancel refused: " << to_string(c);
                    break;
                }
            }
            running.fetch_sub(1);
        });
    }
    std::vector<Event> drained(4096);  // the journal's part, one buffer for the whole run
    std::size_t blocks = 0;
    for (int n = 0; running.load() > 0; ++n) {
        const char* to = n % 2 == 0 ? "2026-03-03T08:40" : "2026-03-03T09:00";
        const auto k = block("r1", "2026-03-03T08:00", to);
        if (k.ok()) {
            EXPECT_TRUE(engine->unblock(staff(), k.value.id).ok());
            ++blocks;
        } else {
            EXPECT_EQ(k.code, ErrorCode::overloaded) << k.message;  // a full event buffer
        }
        while (engine->events().drain(drained) > 0) {
        }
    }
    for (auto& t : threads) t.join();
    EXPECT_GT(blocks, 0U);
    for (const char* t : {"2026-03-03T08:00", "2026-03-03T08:20", "2026-03-03T08:40"}) {
        const auto v = engine->slot(slot("r1", "all3", t));
        EXPECT_EQ(v->state, SlotState::free) << t;
    }
}

}  // namespace
}  // namespace slotmatch::testing
