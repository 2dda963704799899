// The server's retry cache: the four answers of see(), FIFO eviction at its bounds, and a
// seeded differential test against a plain model (colliding keys, evictions, forgets), which
// exercises the index's backward-shift deletion.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "retry_cache.hpp"

namespace slotmatch::tools {
namespace {

using Seen = RetryCache::Seen;

TEST(RetryCache, FirstPendingAnsweredConflict) {
    RetryCache cache(8, 1 << 20);
    const std::string* reply = nullptr;
    EXPECT_EQ(cache.see(42, 7, reply), Seen::first);
    EXPECT_EQ(cache.see(42, 7, reply), Seen::pending);
    cache.store(42, "answer", 6);
    ASSERT_EQ(cache.see(42, 7, reply), Seen::answered);
    EXPECT_EQ(*reply, "answer");
    EXPECT_EQ(cache.see(42, 8, reply), Seen::conflict);  // same id, other content
}

TEST(RetryCache, TheOldestIsForgottenFirstAtTheEntryBound) {
    RetryCache cache(4, 1 << 20);
    const std::string* reply = nullptr;
    for (std::uint64_t k = 1; k <= 5; ++k) {
        ASSERT_EQ(cache.see(k, k, reply), Seen::first);
        cache.store(k, "x", 1);
    }
    EXPECT_EQ(cache.size(), 4u);
    EXPECT_EQ(cache.see(1, 1, reply), Seen::first);  // key 1 was evicted, so it runs again
    EXPECT_EQ(cache.see(5, 5, reply), Seen::answered);
}

TEST(RetryCache, TheByteBoundEvictsOldAnswers) {
    RetryCache cache(64, 10);
    const std::string* reply = nullptr;
    for (std::uint64_t k = 1; k <= 4; ++k) {
        ASSERT_EQ(cache.see(k, 0, reply), Seen::first);
        cache.store(k, "abcd", 4);  // 4 bytes each: at most two fit in 10
    }
    EXPECT_EQ(cache.see(4, 0, reply), Seen::answered);
    EXPECT_EQ(cache.see(3, 0, reply), Seen::answered);
    EXPECT_EQ(cache.see(1, 0, reply), Seen::first);
}

TEST(RetryCache, LargeRepliesDoNotStayAllocatedAfterEviction) {
    constexpr std::size_t entries = 64;
    constexpr std::size_t bytes_max = 1 << 20;
    RetryCache cache(entries, bytes_max);
    const std::string big(256 * 1024, 'x');  // a batch of finds answers with megabytes
    const std::string* reply = nullptr;
    for (std::uint64_t k = 1; k <= 10 * entries; ++k) {
        ASSERT_EQ(cache.see(k, 0, reply), Seen::first);
        cache.store(k, big.data(), big.size());
    }
    // Live answers within bytes_max (one big one may stand above it), every other buffer small.
    EXPECT_LE(cache.capacity_bytes(),
              bytes_max + big.size() + entries * RetryCache::reply_reuse_bytes_max);
}

TEST(RetryCache, AnEntryEvictedWhilePendingKeepsItsFirstAnswer) {
    RetryCache cache(2, 1 << 20);
    const std::string* reply = nullptr;
    ASSERT_EQ(cache.see(1, 0, reply), Seen::first);
    ASSERT_EQ(cache.see(2, 0, reply), Seen::first);
    ASSERT_EQ(cache.see(3, 0, reply), Seen::first);  // evicts 1 while it is pending
    ASSERT_EQ(cache.see(1, 0, reply), Seen::first);  // its retry runs again (evicts 2)
    cache.store(1, "a", 1);                          // the first copy's answer
    cache.store(1, "b", 1);                          // the retry's answer does not replace it
    ASSERT_EQ(cache.see(1, 0, reply), Seen::answered);
    EXPECT_EQ(*reply, "a");
}

TEST(RetryCache, AForgottenRequestRunsOnItsRetry) {
    RetryCache cache(8, 1 << 20);
    const std::string* reply = nullptr;
    ASSERT_EQ(cache.see(9, 1, reply), Seen::first);
    cache.forget(9);  // refused as OVERLOADED before it ran
    EXPECT_EQ(cache.see(9, 1, reply), Seen::first);
}

// The cache against a model: a FIFO of at most `capacity` keys with their state.
TEST(RetryCache, MatchesAModelUnderCollidingKeysAndEvictions) {
    for (std::uint32_t seed = 1; seed <= 8; ++seed) {
        constexpr std::size_t capacity = 16;
        RetryCache cache(capacity, std::size_t{1} << 30);
        struct State {
            bool done = false;
            std::string reply;
        };
        std::map<std::uint64_t, State> model;
        std::deque<std::uint64_t> order;
        std::mt19937_64 rng(seed);
        for (int step = 0; step < 20'000; ++step) {
            // Few distinct keys, many multiples of the table size: long probe runs.
            const std::uint64_t key = (rng() % 40) * 32;
            const std::string* reply = nullptr;
            const Seen seen = cache.see(key, 0, reply);
            auto it = model.find(key);
            if (it == model.end()) {
                ASSERT_EQ(seen, Seen::first) << "seed " << seed << " step " << step;
                if (order.size() == capacity) {
                    model.erase(order.front());
                    order.pop_front();
                }
                model[key] = {};
                order.push_back(key);
                if (rng() % 4 == 0) {  // sometimes refused before running: forgotten
                    cache.forget(key);
                    model.erase(key);
                    order.pop_back();
                } else if (rng() % 2 == 0) {
                    const std::string text = std::string("r").append(std::to_string(step));
                    cache.store(key, text.data(), text.size());
                    model[key] = {true, text};
                }
            } else if (!it->second.done) {
                ASSERT_EQ(seen, Seen::pending) << "seed " << seed << " step " << step;
                const std::string text = "late" + std::to_string(step);
                cache.store(key, text.data(), text.size());
                it->second = {true, text};
            } else {
                ASSERT_EQ(seen, Seen::answered) << "seed " << seed << " step " << step;
                EXPECT_EQ(*reply, it->second.reply);
            }
            ASSERT_EQ(cache.size(), model.size());
        }
    }
}

}  // namespace
}  // namespace slotmatch::tools
