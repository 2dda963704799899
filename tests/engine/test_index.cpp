// The index contract, held for the fast index (SlotIndex) and the naive reference
// (ReferenceIndex) by one typed test suite, and a seeded differential test: random operation
// sequences applied to both must give the same replies and the same state_hash(). A mutant of
// the fast index (a scan that skips its first slot) shows that the differential test fails.
#include <random>
#include <slotmatch/failpoint.hpp>
#include <slotmatch/reference_index.hpp>
#include <sstream>

#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

// The rule-test region's catalog and calendar, loaded once.
struct RegionFixture {
    Catalog catalog;
    Calendar calendar{"Europe/Stockholm"};
    RegionFixture() : catalog(std::move(*load_region_text(rule_region_yaml, "index").catalog)) {}
};
const RegionFixture& fixture() {
    static const RegionFixture f;
    return f;
}

template <typename Index>
class IndexContract : public ::testing::Test {
  protected:
    Index index{fixture().catalog, fixture().calendar, 64};
    const Catalog& catalog = fixture().catalog;
    ResourceIdx resource(const char* id) const { return *catalog.find_resource(id); }
    TypeIdx type(const char* id) const { return *catalog.find_type(id); }
    std::vector<SlotId> between(ResourceIdx r, TypeIdx t, Instant from, Instant to) {
        std::vector<SlotId> out;
        index.for_each_between(r, t, from, to, [&](SlotId s) {
            out.push_back(s);
            return true;
        });
        return out;
    }
};

using Indexes = ::testing::Types<SlotIndex, ReferenceIndex>;
TYPED_TEST_SUITE(IndexContract, Indexes);

TYPED_TEST(IndexContract, SlotIdsFollowResourceTypeAndStart) {
    ASSERT_GT(this->index.size(), 1000U);
    for (std::uint32_t i = 1; i < this->index.size(); ++i) {
        const SlotFacts a = this->index.facts(SlotId{i - 1});
        const SlotFacts b = this->index.facts(SlotId{i});
        EXPECT_TRUE(std::tie(a.resource, a.type, a.start) < std::tie(b.resource, b.type, b.start));
    }
    EXPECT_FALSE(this->index.contains(SlotId{static_cast<std::uint32_t>(this->index.size())}));
}

TYPED_TEST(IndexContract, ForEachBetweenVisitsOneShardInStartOrderWithinTheRange) {
    const Calendar& cal = fixture().calendar;
    const Instant from = *cal.parse_time("2026-03-03T08:20");
    const Instant to = *cal.parse_time("2026-03-03T09:20");
    auto ids = this->between(this->resource("r1"), this->type("all3"), from, to);
    ASSERT_EQ(ids.size(), 3U);  // 08:20, 08:40, 09:00
    for (SlotId s : ids) {
        const SlotFacts f = this->index.facts(s);
        EXPECT_EQ(f.resource, this->resource("r1"));
        EXPECT_EQ(f.type, this->type("all3"));
        EXPECT_GE(f.start.value, from.value);
        EXPECT_LT(f.start.value, to.value);
    }
    EXPECT_EQ(this->index.facts(ids.front()).start, from);
    EXPECT_TRUE(this->between(this->resource("r1"), this->type("hidden"), from, to).empty());
}

TYPED_TEST(IndexContract, CasChangesTheWordOnlyFromTheExpectedOne) {
    const SlotId s{5};
    std::uint64_t expected = this->index.load(s);
    const std::uint64_t booked = SlotWord::next(expected, SlotState::booked, 42);
    EXPECT_TRUE(this->index.cas(s, expected, booked));
    EXPECT_EQ(this->index.load(s), booked);
    std::uint64_t stale = 0;
    EXPECT_FALSE(this->index.cas(s, stale, SlotWord::make(SlotState::free, 9, 0)));
    EXPECT_EQ(stale, booked);  // told what the word is now
    EXPECT_EQ(this->index.load(s), booked);
}

TYPED_TEST(IndexContract, AddedSlotsJoinTheirShardInStartOrder) {
    const Calendar& cal = fixture().calendar;
    const auto r = this->resource("r1");
    const auto t = this->type("all3");
    const auto day = [&](const char* iso) { return *cal.parse_time(iso); };
    auto added = this->index.add_slot(r, t, day("2026-03-03T12:00"), 20);
    ASSERT_TRUE(added.has_value());
    EXPECT_EQ(added->value, this->index.size() - 1);
    auto ids = this->between(r, t, day("2026-03-03T09:30"), day("2026-03-03T23:00"));
    ASSERT_EQ(ids.size(), 2U);  // 09:40 and the new 12:00
    EXPECT_EQ(ids.back(), *added);
    // A type the resource had no shard for gets one.
    const auto before = this->index.types_on(r).size();
    ASSERT_TRUE(this->index.add_slot(r, this->type("win1"), day("2026-03-03T17:00"), 15));
    EXPECT_EQ(this->index.types_on(r).size(), before + 1);
}

TYPED_TEST(IndexContract, AddingBeyondTheSpareRoomIsRefused) {
    const Instant start = *fixture().calendar.parse_time("2026-06-01T20:00");
    for (int i = 0; i < 64; ++i) {
        ASSERT_TRUE(this->index.add_slot(this->resource("r1"), this->type("all3"),
                                         Instant{start.value + i * 3600}, 15));
    }
    EXPECT_FALSE(this->index.add_slot(this->resource("r1"), this->type("all3"), start, 15));
}

TYPED_TEST(IndexContract, AMovedSlotLeavesOneShardForAnother) {
    const auto r = this->resource("r2");
    const SlotId s = this->between(r, this->type("noweb"), Instant{0}, Instant{INT64_MAX}).front();
    const auto before = this->index.state_hash();
    this->index.move_slot(s, this->type("all3"));
    EXPECT_EQ(this->index.facts(s).type, this->type("all3"));
    auto all3 = this->between(r, this->type("all3"), Instant{0}, Instant{INT64_MAX});
    EXPECT_NE(std::find(all3.begin(), all3.end(), s), all3.end());
    auto noweb = this->between(r, this->type("noweb"), Instant{0}, Instant{INT64_MAX});
    EXPECT_EQ(std::find(noweb.begin(), noweb.end(), s), noweb.end());
    EXPECT_NE(this->index.state_hash(), before);
}

TYPED_TEST(IndexContract, OverlappingLooksAcrossTypesOfOneResource) {
    const Calendar& cal = fixture().calendar;
    const auto r = this->resource("r1");
    // 09:50-10:10 overlaps all3's 09:40-10:00 and norecancel's 10:00-10:20.
    auto hit = this->index.overlapping(r, *cal.parse_time("2026-03-03T09:50"),
                                       *cal.parse_time("2026-03-03T10:10"), std::nullopt);
    ASSERT_TRUE(hit.has_value());
    EXPECT_EQ(this->index.facts(*hit).resource, r);
    EXPECT_FALSE(this->index.overlapping(r, *cal.parse_time("2026-03-03T12:00"),
                                         *cal.parse_time("2026-03-03T13:00"), std::nullopt));
    EXPECT_FALSE(this->index.overlapping(r, this->index.facts(*hit).start,
                                         Instant{this->index.facts(*hit).start.value + 60}, *hit));
}

TYPED_TEST(IndexContract, StateHashSeesEveryKindOfChange) {
    const auto h0 = this->index.state_hash();
    EXPECT_EQ(this->index.state_hash(), h0);
    std::uint64_t w = this->index.load(SlotId{3});
    ASSERT_TRUE(this->index.cas(SlotId{3}, w, SlotWord::next(w, SlotState::held, 1)));
    const auto h1 = this->index.state_hash();
    EXPECT_NE(h1, h0);
    this->index.mark_removed(SlotId{4});
    EXPECT_NE(this->index.state_hash(), h1);
}

// ---- the differential test ----------------------------------------------------------------

// Applies one seeded random sequence of operations to both indexes; returns the first
// difference in a reply or in the final state, or nothing when they agree throughout.
std::optional<std::string> differ(std::uint64_t seed, int operations) {
    const RegionFixture& f = fixture();
    SlotIndex fast(f.catalog, f.calendar, 256);
    ReferenceIndex reference(f.catalog, f.calendar, 256);
    std::mt19937_64 rng(seed);
    auto pick = [&](std::size_t n) { return static_cast<std::uint32_t>(rng() % n); };
    const Instant t0 = *f.calendar.parse_time("2026-03-02T00:00");
    const std::size_t resources = f.catalog.resources.size();
    const std::size_t types = f.catalog.types.size();
    std::ostringstream why;
    for (int i = 0; i < operations; ++i) {
        const SlotId s{pick(fast.size())};
        const ResourceIdx r{pick(resources)};
        const TypeIdx t{pick(types)};
        const Instant from{t0.value + pick(40) * seconds_per_day + pick(24) * seconds_per_hour};
        switch (pick(6)) {
            case 0: {  // a CAS from the current word or from a stale one
                std::uint64_t a = fast.load(s), b = reference.load(s);
                if (a != b) return "load differs at op " + std::to_string(i);
                if (pick(3) == 0) a = b = SlotWord::make(SlotState::free, 12345, 0);
                const std::uint64_t desired = SlotWord::next(a, SlotState(pick(4)), pick(1000));
                if (fast.cas(s, a, desired) != reference.cas(s, b, desired) || a != b) {
                    return "cas differs at op " + std::to_string(i);
                }
                break;
            }
            case 1: {  // the first few slots of a shard from a time
                std::vector<SlotId> a, b;
                const std::size_t want = 1 + pick(5);
                fast.for_each_between(r, t, from, Instant{INT64_MAX}, [&](SlotId id) {
                    a.push_back(id);
                    return a.size() < want;
                });
                reference.for_each_between(r, t, from, Instant{INT64_MAX}, [&](SlotId id) {
                    b.push_back(id);
                    return b.size() < want;
                });
                if (a != b) return "scan differs at op " + std::to_string(i);
                break;
            }
            case 2: {  // publish a slot
                auto a = fast.add_slot(r, t, from, 15);
                auto b = reference.add_slot(r, t, from, 15);
                if (a != b) return "add_slot differs at op " + std::to_string(i);
                break;
            }
            case 3:  // move a slot to another type
                if (fast.facts(s).type != t) {
                    fast.move_slot(s, t);
                    reference.move_slot(s, t);
                }
                break;
            case 4: {
                const Instant to{from.value + 30 * seconds_per_minute};
                if (fast.overlapping(r, from, to, std::nullopt) !=
                    reference.overlapping(r, from, to, std::nullopt)) {
                    return "overlapping differs at op " + std::to_string(i);
                }
                break;
            }
            case 5:
                fast.mark_removed(s);
                reference.mark_removed(s);
                break;
        }
    }
    if (fast.state_hash() != reference.state_hash()) return std::string("final state_hash differs");
    return std::nullopt;
}

TEST(IndexDifferential, RandomSequencesGiveTheSameRepliesAndState) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        auto difference = differ(seed, 3000);
        EXPECT_FALSE(difference.has_value()) << "seed " << seed << ": " << *difference;
    }
}

TEST(IndexDifferential, ABrokenFastIndexIsCaught) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    failpoint::enable_mutant("index.scan_skips_first", true);
    auto difference = differ(1, 3000);
    failpoint::enable_mutant("index.scan_skips_first", false);
    ASSERT_TRUE(difference.has_value());
    EXPECT_NE(difference->find("differs"), std::string::npos);
}

}  // namespace
}  // namespace slotmatch::testing
