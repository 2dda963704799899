// The waitlist over a region's life (issue 11, point 4): entries end when the patient is booked
// from the waitlist or taken off, and their records are reused, so no count over a store's life
// fills the table or stops a start; a patient returned to the waitlist keeps their place (R22);
// an entry's id never reaches a later entry in its record.
#include <atomic>
#include <thread>

#include "store_history.hpp"

namespace slotmatch::testing {
namespace {

// A waitlist table far smaller than the cycles the tests run through it.
class Waitlist : public StoreHistory {
  protected:
    EngineLimits limits() const override {
        EngineLimits l;
        l.waitlist_max = 16;
        return l;
    }
    Outcome<WaitlistView> add(int n, const char* typ = "all3") {
        return engine->waitlist_add(staff(), unit("u1"), type(typ), patient(n));
    }
    Outcome<BookingView> book_from_waitlist(const Actor& a, SlotId s, PatientKey p) {
        BookRequest r;
        r.slot = s;
        r.patient = p;
        r.from_waitlist = true;
        return engine->book(a, r);
    }
    std::vector<PatientKey> order(const Engine& e) const {
        std::vector<PatientKey> out;
        for (const WaitlistView& w : e.waitlist(staff(), unit("u1")).value) {
            out.push_back(w.patient);
        }
        return out;
    }
};

TEST_F(Waitlist, ManyAddAndRemoveCyclesNeverFillTheTableAndARestartFollows) {
    // 20,000 entries through a table of 16: taken off by staff or booked from the waitlist and
    // cancelled again by staff (which ends the booking and does not return the patient).
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    for (int n = 0; n < 20'000; ++n) {
        const auto added = add(n % 12);
        ASSERT_TRUE(added.ok()) << "cycle " << n << ": " << added.message;
        if (n % 5 == 0) {
            const auto booked = book_from_waitlist(staff(), s, patient(n % 12));
            ASSERT_TRUE(booked.ok()) << "cycle " << n << ": " << booked.message;
            ASSERT_TRUE(engine->cancel(staff(), booked.value.id, {}).ok());
        } else {
            const auto removed = engine->waitlist_remove(staff(), added.value.id);
            ASSERT_TRUE(removed.ok()) << "cycle " << n << ": " << removed.message;
            EXPECT_EQ(removed.value.patient, patient(n % 12));
        }
        if (n % 1000 == 0) collect(*engine);
    }
    ASSERT_TRUE(add(1).ok());
    clock->set(Instant{clock->now().value + 60});
    ASSERT_TRUE(add(2).ok());
    collect(*engine);
    auto copy = from_store(rule_region_yaml);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(last.waitlist, 2U);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    EXPECT_EQ(order(*copy), order(*engine));
    // The restarted engine reuses the records too: 100 more cycles, and the two still wait.
    for (int n = 0; n < 100; ++n) {
        const auto added = copy->waitlist_add(staff(), unit("u1"), type("all3"), patient(50));
        ASSERT_TRUE(added.ok()) << added.message;
        ASSERT_TRUE(copy->waitlist_remove(staff(), added.value.id).ok());
    }
    EXPECT_EQ(order(*copy), (std::vector{patient(1), patient(2)}));
}

TEST_F(Waitlist, R22_APatientReturnedToTheWaitlistKeepsTheirPlace) {
    const auto first = add(1);
    ASSERT_TRUE(first.ok());
    clock->set(at("2026-03-02T07:10:00+01:00"));
    ASSERT_TRUE(add(2).ok());
    clock->set(at("2026-03-02T07:20:00+01:00"));
    const auto booked =
        book_from_waitlist(staff(), slot("r1", "all3", "2026-03-04T08:00"), patient(1));
    ASSERT_TRUE(booked.ok());
    clock->set(at("2026-03-02T07:30:00+01:00"));
    ASSERT_TRUE(add(3).ok());
    // The booking moves (its place goes with it), then the citizen cancels on the web.
    const auto moved =
        rebook(web(), booked.value.id, slot("r1", "all3", "2026-03-05T08:00"), patient(1));
    ASSERT_TRUE(moved.ok());
    clock->set(at("2026-03-02T07:40:00+01:00"));
    const auto cancelled = engine->cancel(web(), moved.value.booking.id, patient(1));
    ASSERT_TRUE(cancelled.ok());
    ASSERT_TRUE(cancelled.value.returned_to_waitlist);
    const auto list = engine->waitlist(staff(), unit("u1"));
    ASSERT_EQ(list.value.size(), 3U);
    EXPECT_EQ(order(*engine), (std::vector{patient(1), patient(2), patient(3)}));
    EXPECT_EQ(list.value[0].added_at, first.value.added_at);
    // And after a restart.
    collect(*engine);
    auto copy = from_store(rule_region_yaml);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(order(*copy), order(*engine));
    EXPECT_EQ(copy->waitlist(staff(), unit("u1")).value[0].added_at, first.value.added_at);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
}

TEST_F(Waitlist, OnlyTheUnitsStaffTakeAPatientOffAndAnOldIdNeverReachesALaterEntry) {
    const auto added = add(1);
    ASSERT_TRUE(added.ok());
    EXPECT_EQ(engine->waitlist_remove(staff("u2"), added.value.id).code, ErrorCode::unauthorized);
    EXPECT_EQ(engine->waitlist_remove(web(), added.value.id).code, ErrorCode::unauthorized);
    EXPECT_EQ(engine->waitlist_remove(staff(), WaitlistEntryId{0}).code,
              ErrorCode::invalid_request);
    EXPECT_EQ(engine->waitlist_remove(staff(), WaitlistEntryId{added.value.id.value + 1}).code,
              ErrorCode::invalid_request);
    EXPECT_EQ(order(*engine), std::vector{patient(1)});  // the refusals changed nothing
    ASSERT_EQ(drain_events(), 1U);                       // the add's event only
    ASSERT_TRUE(engine->waitlist_remove(staff(), added.value.id).ok());
    const auto again = engine->waitlist_remove(staff(), added.value.id);
    EXPECT_EQ(again.code, ErrorCode::invalid_request);
    EXPECT_EQ(again.field, "entry");
    // The record is reused by the next entry, under another id; the old one does not reach it.
    const auto next = add(2);
    ASSERT_TRUE(next.ok());
    EXPECT_NE(next.value.id, added.value.id);
    EXPECT_EQ(engine->waitlist_remove(staff(), added.value.id).code, ErrorCode::invalid_request);
    EXPECT_EQ(order(*engine), std::vector{patient(2)});
}

using TinyWaitlist = RegionWith<&EngineLimits::waitlist_max, 1>;

// R22 is not skipped when the waitlist is full: the web cancel that would return the patient is
// refused with OVERLOADED and changes nothing; with room again, it goes through.
TEST_F(TinyWaitlist, R22_AFullWaitlistRefusesTheCancelThatWouldReturnThePatient) {
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(1)).ok());
    BookRequest r;
    r.slot = slot("r1", "all3", "2026-03-04T08:00");
    r.patient = patient(1);
    r.from_waitlist = true;
    const auto booked = engine->book(staff(), r);
    ASSERT_TRUE(booked.ok());
    const auto other = engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(2));
    ASSERT_TRUE(other.ok());  // the record patient 1 left
    EXPECT_EQ(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(3)).code,
              ErrorCode::overloaded);
    const auto refused = engine->cancel(web(), booked.value.id, patient(1));
    EXPECT_EQ(refused.code, ErrorCode::overloaded);
    EXPECT_TRUE(engine->booking(booked.value.id)->active);
    ASSERT_TRUE(engine->waitlist_remove(staff(), other.value.id).ok());
    const auto cancelled = engine->cancel(web(), booked.value.id, patient(1));
    ASSERT_TRUE(cancelled.ok());
    EXPECT_TRUE(cancelled.value.returned_to_waitlist);
}

// Staff list the waitlist while entries come and go on other threads and records are reused:
// every entry listed is whole (its type and time are those of its patient's entry).
TEST_F(Waitlist, AListingSeesWholeEntriesWhileRecordsAreReused) {
    constexpr int writers = 3;
    constexpr int cycles = 3000;
    // Each writer its own type and patients, so a torn read (one entry's patient, another's
    // type) shows; and one entry per writer waiting throughout, so every listing sees some.
    static constexpr const char* types[writers] = {"all3", "norecancel", "nobook"};
    std::vector<WaitlistEntryId> standing;
    for (int t = 0; t < writers; ++t) {
        const auto added =
            engine->waitlist_add(staff(), unit("u1"), type(types[t]), patient(100 + t));
        ASSERT_TRUE(added.ok()) << added.message;
        standing.push_back(added.value.id);
    }
    std::atomic<int> running{writers};
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            const char* typ = types[t];
            for (int n = 0; n < cycles; ++n) {
                const auto added =
                    engine->waitlist_add(staff(), unit("u1"), type(typ), patient(t * 4 + n % 4));
                if (!added.ok()) {
                    ADD_FAILURE() << added.message;
                    break;
                }
                if (!engine->waitlist_remove(staff(), added.value.id).ok()) {
                    ADD_FAILURE() << "remove refused";
                    break;
                }
            }
            running.fetch_sub(1);
        });
    }
    std::size_t seen = 0;
    do {
        drain_events();  // the journal's part: one thread drains
        for (const WaitlistView& w : engine->waitlist(staff(), unit("u1")).value) {
            int owner = -1;
            for (int t = 0; t < writers * 4; ++t) {
                if (patient(t) == w.patient) owner = t / 4;
            }
            for (int t = 0; t < writers; ++t) {
                if (patient(100 + t) == w.patient) owner = t;
            }
            EXPECT_GE(owner, 0) << "a patient no writer added";  // no ASSERT: join the writers
            if (owner < 0) continue;
            EXPECT_EQ(w.type, type(types[owner])) << "an entry read whole";
            EXPECT_EQ(w.unit, unit("u1"));
            EXPECT_EQ(w.added_at, clock->now());
            ++seen;
        }
    } while (running.load() > 0);
    for (auto& t : threads) t.join();
    EXPECT_GE(seen, static_cast<std::size_t>(writers)) << "the standing entries at least";
    for (WaitlistEntryId id : standing) EXPECT_TRUE(engine->waitlist_remove(staff(), id).ok());
    EXPECT_TRUE(engine->waitlist(staff(), unit("u1")).value.empty());
    RecordProperty("entries_seen", static_cast<int>(seen));
}

}  // namespace
}  // namespace slotmatch::testing
