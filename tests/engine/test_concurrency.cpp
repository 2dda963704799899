// Races: many threads on one slot, rebooks into one slot, and a mixed load whose invariants are
// checked at the end. Run under ThreadSanitizer by tools/test.sh.
#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

using Races = RuleRegion;

constexpr int race_threads = 64;

#if defined(__SANITIZE_THREAD__)
constexpr int race_rounds = 40;  // TSan runs each thread far slower; the interleavings remain
#else
constexpr int race_rounds = 300;
#endif

TEST_F(Races, SixtyFourThreadsBookOneSlotExactlyOneWinsEachRound) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    std::atomic<int> wins{0};
    std::atomic<int> taken{0};
    std::atomic<BookingId::value_type> winner{0};
    std::barrier start(race_threads);
    std::barrier finish(race_threads, [&]() noexcept {
        EXPECT_EQ(wins.load(), 1);
        EXPECT_EQ(taken.load(), race_threads - 1);
        if (winner.load() != 0) {
            EXPECT_TRUE(engine->cancel(staff(), BookingId{winner.load()}, {}).ok());
        }
        wins.store(0);
        taken.store(0);
        winner.store(0);
        drain_events();
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < race_threads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < race_rounds; ++round) {
                start.arrive_and_wait();
                auto r = book(web(), s, patient(t));
                if (r.ok()) {
                    wins.fetch_add(1);
                    winner.store(r.value.id.value);
                } else if (r.code == ErrorCode::slot_already_reserved) {
                    taken.fetch_add(1);
                }
                finish.arrive_and_wait();
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(engine->slot(s)->state, SlotState::free);
}

TEST_F(Races, TwoCitizensRebookIntoOneSlotExactlyOneWinsAndTheLoserKeepsTheirs) {
    for (int round = 0; round < race_rounds; ++round) {
        // Fresh bookings each round on one day; both race for the 09:40 slot.
        const int day = 3 + round % 3;
        char a_time[32], b_time[32], target_time[32];
        std::snprintf(a_time, sizeof a_time, "2026-03-%02dT08:00", day);
        std::snprintf(b_time, sizeof b_time, "2026-03-%02dT08:20", day);
        std::snprintf(target_time, sizeof target_time, "2026-03-%02dT09:40", day);
        auto a = book(web(), slot("r1", "all3", a_time), patient(1));
        auto b = book(web(), slot("r1", "all3", b_time), patient(2));
        ASSERT_TRUE(a.ok() && b.ok());
        SlotId target = slot("r1", "all3", target_time);
        Outcome<MoveResult> ra, rb;
        std::barrier go(2);
        std::thread ta([&] {
            go.arrive_and_wait();
            ra = rebook(web(), a.value.id, target, patient(1));
        });
        std::thread tb([&] {
            go.arrive_and_wait();
            rb = rebook(web(), b.value.id, target, patient(2));
        });
        ta.join();
        tb.join();
        ASSERT_NE(ra.ok(), rb.ok()) << "exactly one rebook wins";
        const auto& loser = ra.ok() ? b : a;
        const auto& lost = ra.ok() ? rb : ra;
        EXPECT_EQ(lost.code, ErrorCode::slot_already_reserved);
        EXPECT_TRUE(engine->booking(loser.value.id)->active) << "the loser keeps the booking";
        const auto& won = ra.ok() ? ra : rb;
        EXPECT_EQ(engine->slot(target)->state, SlotState::booked);
        // Clean up for the next round.
        ASSERT_TRUE(engine->cancel(staff(), won.value.booking.id, {}).ok());
        ASSERT_TRUE(engine->cancel(staff(), loser.value.id, {}).ok());
        drain_events();
    }
}

// Threads book, rebook and cancel at random over a handful of hot slots while a consumer
// drains events. At the end every booked slot is owned by exactly one active booking that its
// patient lists, and the events balance: booked - cancelled = active bookings.
TEST_F(Races, MixedLoadKeepsEverySlotSingleBooked) {
    std::vector<SlotId> hot;
    for (const char* t : {"08:00", "08:20", "08:40", "09:00", "09:20", "09:40"}) {
        hot.push_back(slot("r1", "all3", (std::string("2026-03-03T") + t).c_str()));
    }
    constexpr int workers = 8;
#if defined(__SANITIZE_THREAD__)
    constexpr int ops = 1500;
#else
    constexpr int ops = 20000;
#endif
    std::atomic<bool> done{false};
    std::atomic<long> booked{0}, cancelled{0};
    std::thread consumer([&] {
        std::vector<Event> out(1024);
        auto count = [&](std::size_t n) {
            for (std::size_t i = 0; i < n; ++i) {
                if (out[i].kind == EventKind::booked) booked.fetch_add(1);
                if (out[i].kind == EventKind::cancelled) cancelled.fetch_add(1);
            }
        };
        while (!done.load()) count(engine->events().drain(out));
        // Everything left once the workers are done: a drain takes at most out.size() events,
        // and a starved consumer can be left thousands behind (one drain here once missed one).
        while (const std::size_t n = engine->events().drain(out)) count(n);
    });
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            std::uint32_t rng = 12345u + static_cast<std::uint32_t>(w);
            std::vector<BookingId> mine;
            for (int i = 0; i < ops; ++i) {
                rng = rng * 1664525u + 1013904223u;
                const int p = w * 4 + static_cast<int>((rng >> 8) % 4);
                SlotId s = hot[(rng >> 16) % hot.size()];
                if (mine.empty() || (rng >> 28) < 8) {
                    auto r = book(web(), s, patient(p));
                    if (r.ok()) mine.push_back(r.value.id);
                } else if ((rng >> 28) < 12) {
                    auto r = rebook(staff(), mine.back(), s, {});
                    if (r.ok()) mine.back() = r.value.booking.id;
                } else {
                    if (engine->cancel(staff(), mine.back(), {}).ok())
                        mine.pop_back();
                    else
                        mine.pop_back();  // gone already is fine; forget it
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    done.store(true);
    consumer.join();

    long active = 0;
    for (SlotId s : hot) {
        auto v = engine->slot(s);
        if (v->state != SlotState::booked) continue;
        ++active;
    }
    int listed_total = 0;
    for (int p = 0; p < workers * 4; ++p) {
        for (const BookingView& b : engine->bookings(staff(), patient(p)).value) {
            EXPECT_TRUE(b.active);
            EXPECT_EQ(engine->slot(b.slot.id)->state, SlotState::booked);
            ++listed_total;
        }
    }
    EXPECT_EQ(listed_total, active) << "each booked slot belongs to exactly one listed booking";
    EXPECT_EQ(booked.load() - cancelled.load(), active);
}

}  // namespace
}  // namespace slotmatch::testing
