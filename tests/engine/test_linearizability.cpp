// Concurrent histories of book/cancel/rebook on a few hot slots, checked for linearizability
// slot by slot; and the checker itself, shown to reject histories no order explains.
#include <atomic>
#include <mutex>
#include <slotmatch/failpoint.hpp>
#include <thread>

#include "engine_fixture.hpp"
#include "linearizability.hpp"

namespace slotmatch::testing {
namespace {

using Kind = SlotOp::Kind;

// ---- the checker ---------------------------------------------------------------------------

TEST(LinearizabilityChecker, AcceptsASequentialHistory) {
    History h;
    h.add(1, {Kind::take, true, 7, 1, 2});
    h.add(1, {Kind::take, false, 0, 3, 4});
    h.add(1, {Kind::release, true, 7, 5, 6});
    h.add(1, {Kind::take, true, 8, 7, 8});
    EXPECT_TRUE(h.violations().empty());
}

TEST(LinearizabilityChecker, AcceptsOverlappingOpsInEitherOrder) {
    History h;
    // A take that failed overlaps the successful one: ordered after it, it is explained.
    h.add(1, {Kind::take, false, 0, 1, 10});
    h.add(1, {Kind::take, true, 7, 2, 3});
    EXPECT_TRUE(h.violations().empty());
}

TEST(LinearizabilityChecker, RejectsTwoSuccessfulTakesWithoutARelease) {
    History h;  // the double booking the index must never allow
    h.add(3, {Kind::take, true, 7, 1, 4});
    h.add(3, {Kind::take, true, 8, 2, 3});
    EXPECT_EQ(h.violations(), std::vector<std::uint32_t>{3});
}

TEST(LinearizabilityChecker, RejectsAFailedTakeOnAFreeSlot) {
    History h;
    h.add(2, {Kind::take, false, 0, 1, 2});  // refused though nothing held the slot
    h.add(2, {Kind::take, true, 7, 3, 4});
    EXPECT_EQ(h.violations(), std::vector<std::uint32_t>{2});
}

TEST(LinearizabilityChecker, RejectsAReleaseOfABookingNeverTaken) {
    History h;
    h.add(2, {Kind::take, true, 7, 1, 2});
    h.add(2, {Kind::release, true, 9, 3, 4});
    EXPECT_EQ(h.violations(), std::vector<std::uint32_t>{2});
}

// ---- the engine ----------------------------------------------------------------------------

// Records each operation's invoke and return on one logical clock and splits it per slot.
class Recorder {
  public:
    std::uint64_t tick() { return clock_.fetch_add(1, std::memory_order_acq_rel); }
    void add(std::uint32_t slot, SlotOp op) {
        std::lock_guard lock(mutex_);
        history_.add(slot, op);
    }
    const History& history() const { return history_; }

  private:
    std::atomic<std::uint64_t> clock_{1};
    std::mutex mutex_;  // only the recorder's; the engine runs free
    History history_;
};

// Four threads book, rebook and cancel on four hot slots of one resource and type; every call
// is recorded with its invoke and return on one logical clock.
class Linearizability : public RuleRegion {
  protected:
    History run(int ops_per_thread) {
        std::vector<SlotId> hot;
        for (const char* t : {"08:00", "08:20", "08:40", "09:00"}) {
            hot.push_back(slot("r1", "all3", (std::string("2026-03-03T") + t).c_str()));
        }
        constexpr int threads = 4;
        Recorder rec;
        std::vector<std::thread> workers;
        for (int w = 0; w < threads; ++w) {
            workers.emplace_back([&, w] { work(rec, hot, w, ops_per_thread); });
        }
        for (auto& t : workers) t.join();
        return rec.history();
    }

  private:
    void work(Recorder& rec, const std::vector<SlotId>& hot, int w, int ops) {
        std::uint32_t rng = 777u + static_cast<std::uint32_t>(w) * 7919u;
        std::vector<std::pair<BookingId, SlotId>> mine;
        const PatientKey me = patient(100 + w);
        for (int i = 0; i < ops; ++i) {
            rng = rng * 1664525u + 1013904223u;
            const SlotId s = hot[(rng >> 12) % hot.size()];
            const unsigned pick = (rng >> 24) % 10;
            const std::uint64_t t0 = rec.tick();
            if (mine.empty() || pick < 4) {
                auto r = book(web(), s, me);
                const std::uint64_t t1 = rec.tick();
                if (r.ok()) {
                    rec.add(s.value, {Kind::take, true, r.value.id.value, t0, t1});
                    mine.emplace_back(r.value.id, s);
                } else if (r.code == ErrorCode::slot_already_reserved) {
                    rec.add(s.value, {Kind::take, false, 0, t0, t1});
                }
            } else if (pick < 7) {
                const auto [b, from] = mine.back();
                auto r = rebook(web(), b, s, me);
                const std::uint64_t t1 = rec.tick();
                if (r.ok()) {
                    rec.add(from.value, {Kind::release, true, b.value, t0, t1});
                    rec.add(s.value, {Kind::take, true, r.value.booking.id.value, t0, t1});
                    mine.back() = {r.value.booking.id, s};
                } else if (r.code == ErrorCode::slot_already_reserved) {
                    rec.add(s.value, {Kind::take, false, 0, t0, t1});
                }
            } else {
                const auto [b, from] = mine.back();
                mine.pop_back();
                auto r = engine->cancel(web(), b, me);
                rec.add(from.value, {Kind::release, r.ok(), b.value, t0, rec.tick()});
            }
        }
    }
};

#if defined(__SANITIZE_THREAD__)
constexpr int history_ops = 60;
#else
constexpr int history_ops = 150;
#endif

TEST_F(Linearizability, BookCancelRebookOnHotSlotsIsLinearizable) {
    const History h = run(history_ops);
    EXPECT_GT(h.size(), static_cast<std::size_t>(4 * history_ops / 2));
    EXPECT_TRUE(h.violations().empty());
}

// The same check on an engine whose rebook takes its target without a CAS (a compare, then a
// store): two rebooks into one free slot can both succeed, and the checker must say so.
TEST_F(Linearizability, ARebookWithoutItsCasIsCaught) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    failpoint::enable_mutant("engine.rebook_without_cas", true);
    bool caught = false;
    for (int attempt = 0; attempt < 50 && !caught; ++attempt) {
        SetUp();  // a fresh engine each attempt
        caught = !run(history_ops).violations().empty();
    }
    failpoint::enable_mutant("engine.rebook_without_cas", false);
    EXPECT_TRUE(caught) << "50 histories with the mutant all looked linearizable";
}

}  // namespace
}  // namespace slotmatch::testing
