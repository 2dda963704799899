// Races around the reuse of hold records (found in review): a hold ended by the sweep before
// hold() returns, and an event whose "before" names an expired hold whose record is reused
// while the event is built. A clock that runs a test's action on a chosen now() call puts the
// sweep exactly there.
#include <atomic>
#include <functional>

#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

// A fixed clock that can run a one-shot action on the first now() call for which `when` holds.
class HookClock final : public Clock {
  public:
    explicit HookClock(Instant t) : now_(t.value) {}
    Instant now() const override {
        if (armed_ && !busy_) {
            busy_ = true;
            const bool fire = when_();
            if (fire) {
                armed_ = false;
                action_();
            }
            busy_ = false;
        }
        return Instant{now_.load()};
    }
    void advance_s(std::int64_t s) { now_.fetch_add(s); }
    void arm(std::function<bool()> when, std::function<void()> action) {
        when_ = std::move(when);
        action_ = std::move(action);
        armed_ = true;
    }

  private:
    std::atomic<std::int64_t> now_;
    mutable bool armed_ = false;
    mutable bool busy_ = false;
    std::function<bool()> when_;
    std::function<void()> action_;
};

class HoldReuseRaces : public RuleRegion {
  protected:
    void SetUp() override {
        RuleRegion::SetUp();
        auto loaded = load_region_text(rule_region_yaml, "rule-region");
        ASSERT_TRUE(loaded.ok());
        hclock = std::make_unique<HookClock>(at("2026-03-02T07:00:00+01:00"));
        engine = std::make_unique<Engine>(std::move(*loaded.catalog), *hclock, limits());
    }
    EngineLimits limits() const override {
        EngineLimits l;
        l.holds_max = 4;
        return l;
    }
    std::unique_ptr<HookClock> hclock;
};

// The id hold() returns is the hold's own, even when the sweep ends the hold and the record is
// reused before hold() returns.
TEST_F(HoldReuseRaces, AHoldSweptBeforeHoldReturnsKeepsItsOwnId) {
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    const SlotId t = slot("r1", "all3", "2026-03-03T08:20");
    Outcome<HoldView> other;
    hclock->arm([&] { return engine->slot(s)->state == SlotState::held; },  // just after the CAS
                [&] {
                    hclock->advance_s(301);
                    EXPECT_EQ(engine->expire_holds(), 1U);
                    other = engine->hold(web(), t, patient(1));  // reuses the record
                });
    auto h = engine->hold(web(), s, patient(1));
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(other.ok());
    EXPECT_NE(h.value.id, other.value.id) << "the swept hold's id is the new hold's id";
    BookRequest r;
    r.hold = h.value.id;
    r.patient = patient(1);
    auto b = engine->book(web(), r);
    EXPECT_EQ(b.code, ErrorCode::hold_expired);
}

// The "before" of a held event names the hold the slot was taken from, even when that hold's
// record is reused while the event is built.
TEST_F(HoldReuseRaces, AHeldEventNamesTheHoldTheSlotWasTakenFrom) {
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    const SlotId t = slot("r1", "all3", "2026-03-03T08:20");
    auto h1 = engine->hold(web(), s, patient(1));
    ASSERT_TRUE(h1.ok());
    hclock->advance_s(301);
    drain_events();
    hclock->arm([&] { return engine->slot(s)->state == SlotState::held; },  // after P2's CAS
                [&] {
                    engine->expire_holds();
                    ASSERT_TRUE(engine->hold(web(), t, patient(3)).ok());
                });
    ASSERT_TRUE(engine->hold(web(), s, patient(2)).ok());
    std::vector<Event> out(64);
    out.resize(engine->events().drain(out));
    bool found = false;
    for (const Event& e : out) {
        if (e.kind != EventKind::held || e.after.slot != s) continue;
        found = true;
        EXPECT_EQ(e.before.patient, patient(1));
        EXPECT_EQ(e.before.hold, h1.value.id);
        EXPECT_NE(e.before.patient, patient(3)) << "journal names patient 3 on slot s";
    }
    EXPECT_TRUE(found);
}

}  // namespace
}  // namespace slotmatch::testing
