// Edges: capacity that refusals must not consume, holds and bookings racing blocking events,
// the daylight-saving nights, ended visits, event contents and the order of refusal codes.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <slotmatch/failpoint.hpp>
#include <thread>

#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

class SmallTables : public RuleRegion {
  protected:
    EngineLimits limits() const override {
        EngineLimits l;
        l.bookings_max = 8;
        l.holds_max = 8;
        l.patients_max = 16;
        return l;
    }
};

TEST_F(SmallTables, RefusalsCostNoCapacity) {
    SlotId taken = slot("r1", "all3", "2026-03-03T08:00");
    ASSERT_TRUE(book(web(), taken, patient(1)).ok());
    for (int i = 0; i < 1000; ++i) {  // distinct patients, every one refused
        ASSERT_EQ(book(web(), taken, patient(100 + i)).code, ErrorCode::slot_already_reserved);
        ASSERT_EQ(engine->hold(web(), taken, patient(100 + i)).code,
                  ErrorCode::slot_already_reserved);
    }
    EXPECT_TRUE(book(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(2)).ok());
    EXPECT_TRUE(engine->hold(web(), slot("r1", "all3", "2026-03-03T08:40"), patient(3)).ok());
}

TEST_F(SmallTables, AFullBookingTableRefusesWithOverloadedAndChangesNothing) {
    for (const char* day : {"03", "04", "05", "06", "09", "10", "11", "12"}) {  // 8 = bookings_max
        const std::string when = std::string("2026-03-") + day + "T08:00";
        ASSERT_TRUE(book(web(), slot("r1", "all3", when.c_str()), patient(std::atoi(day))).ok())
            << when;
    }
    SlotId next = slot("r1", "all3", "2026-03-13T08:00");
    EXPECT_EQ(book(web(), next, patient(20)).code, ErrorCode::overloaded);
    EXPECT_EQ(engine->slot(next)->state, SlotState::free);
}

using Edges = RuleRegion;

// ---- holds and blocking events (R14) -------------------------------------------------------

TEST_F(Edges, R14_AnExpiredHoldUnderABlockIsNotBookable) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    ASSERT_TRUE(engine->hold(web(), s, patient(1)).ok());
    ASSERT_TRUE(
        engine->block(staff(), resource("r1"), at("2026-03-03T08:00"), at("2026-03-03T09:00"), "")
            .ok());
    clock->advance_s(301);
    EXPECT_FALSE(listed(find(staff(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(2)).code, ErrorCode::slot_not_available);
    EXPECT_EQ(engine->slot(s)->state, SlotState::blocked);
    drain_events();
    EXPECT_EQ(engine->expire_holds(), 1U);
    std::vector<Event> out(4);
    ASSERT_EQ(engine->events().drain(out), 1U);
    EXPECT_EQ(out[0].after.state, SlotState::blocked);  // the hold leaves it to the block
}

TEST_F(Edges, R14_AnExpiredHoldOfARemovedTypeIsNotBookable) {
    SlotId s = slot("r2", "win1", "2026-03-02T11:00");
    ASSERT_TRUE(engine->hold(web(), s, patient(1)).ok());
    ASSERT_TRUE(engine->remove_type(staff(), unit("u1"), type("win1")).ok());
    clock->advance_s(301);
    EXPECT_EQ(book(staff(), s, patient(2)).code, ErrorCode::slot_not_available);
}

TEST_F(Edges, R14_ALiveHoldUnderABlockDoesNotBecomeABooking) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto h = engine->hold(web(), s, patient(1));
    ASSERT_TRUE(h.ok());
    auto k =
        engine->block(staff(), resource("r1"), at("2026-03-03T08:00"), at("2026-03-03T09:00"), "");
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k.value.reserved_untouched, 1U);
    BookRequest r;
    r.hold = h.value.id;
    r.patient = patient(1);
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::slot_not_available);
}

// A blocking event that registers between a cancel's reading of the slot's rest and its CAS
// (the failpoint puts the block exactly there): the cancel must still leave the slot blocked.
TEST_F(Edges, R14_ABlockRegisteringInsideACancelStillBlocksTheSlot) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto a = book(staff(), s, patient(1));
    ASSERT_TRUE(a.ok());
    Outcome<BlockResult> k;
    failpoint::set("release_source:before_cas", [&] {
        k = engine->block(staff(), resource("r1"), at("2026-03-03T08:00"), at("2026-03-03T08:20"),
                          "");
    });
    ASSERT_TRUE(engine->cancel(staff(), a.value.id, {}).ok());
    failpoint::set("release_source:before_cas", {});
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k.value.reserved_untouched, 1U);  // the block saw the booking, not a free slot
    EXPECT_EQ(engine->slot(s)->state, SlotState::blocked);
    EXPECT_EQ(book(web(), s, patient(2)).code, ErrorCode::slot_not_available);
}

// The mirror image: an unblock inside the cancel must not leave the slot blocked for good.
TEST_F(Edges, R13_AnUnblockInsideACancelStillFreesTheSlot) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto a = book(staff(), s, patient(1));
    ASSERT_TRUE(a.ok());
    auto k =
        engine->block(staff(), resource("r1"), at("2026-03-03T08:00"), at("2026-03-03T08:20"), "");
    ASSERT_TRUE(k.ok());
    failpoint::set("release_source:before_cas",
                   [&] { ASSERT_TRUE(engine->unblock(staff(), k.value.id).ok()); });
    ASSERT_TRUE(engine->cancel(staff(), a.value.id, {}).ok());
    failpoint::set("release_source:before_cas", {});
    EXPECT_EQ(engine->slot(s)->state, SlotState::free);
    EXPECT_TRUE(book(web(), s, patient(2)).ok());
}

// A type removal inside a cancel: the freed slot is removed with its type.
TEST_F(Edges, R14_ATypeRemovalInsideACancelStillRemovesTheSlot) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    SlotId s = slot("r2", "win1", "2026-03-02T11:00");
    auto a = book(web(), s, patient(1));
    ASSERT_TRUE(a.ok());
    failpoint::set("release_source:before_cas", [&] {
        ASSERT_TRUE(engine->remove_type(staff(), unit("u1"), type("win1")).ok());
    });
    ASSERT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    failpoint::set("release_source:before_cas", {});
    EXPECT_EQ(engine->slot(s)->state, SlotState::blocked);
    EXPECT_EQ(book(staff(), s, patient(2)).code, ErrorCode::slot_not_available);
}

// ---- daylight saving nights ---------------------------------------------------------------

// An out-of-hours centre with one night doctor; `rest` adds its types and schedules.
std::string night_unit(const std::string& rest) {
    return std::string(R"(
timezone: Europe/Stockholm
providers:
  - id: p
    name: Region
    units:
      - id: jour
        name: Jourcentralen
        web: {booking_active: true, cancel_rebook_active: true}
        resources: [{id: natt, type: person, name: Nattläkare Berg}]
)") + rest.substr(1);  // drop the raw string's leading newline
}

// Schedules expand on the days the clocks do not change by adding minutes to the local midnight
// (Calendar::steady_midnight); that must give exactly what the zone's look-up gives, and only
// the days the clocks change may take the look-up (R11: local days; R23: real hours).
// The days of 2026 and 2027 on which `zone` has no steady midnight, after checking that on
// every other day each wall-clock time (every 5 minutes) is the midnight plus its minutes.
std::vector<std::string> unsteady_days(const Calendar& zone) {
    const LocalDay first = *Calendar::parse_day("2026-01-01");
    const LocalDay last = *Calendar::parse_day("2027-12-31");
    std::vector<std::string> unsteady;
    for (LocalDay day = first; day <= last; ++day) {
        const auto midnight = zone.steady_midnight(day);
        if (!midnight) {
            unsteady.push_back(Calendar::format_day(day));
            continue;
        }
        for (int m = 0; m < 24 * 60; m += 5) {
            const auto start = zone.existing_local(day, m);
            EXPECT_TRUE(start) << Calendar::format_day(day) << " minute " << m;
            if (!start) return unsteady;
            EXPECT_EQ(start->value, midnight->value + m * seconds_per_minute)
                << Calendar::format_day(day) << " minute " << m;
            if (start->value != midnight->value + m * seconds_per_minute) return unsteady;
        }
    }
    return unsteady;
}

TEST(DaylightSaving, StartsOnSteadyDaysAreTheZonesOwnAndOnlyClockChangeDaysAreUnsteady) {
    EXPECT_EQ(unsteady_days(Calendar("Europe/Stockholm")),
              (std::vector<std::string>{"2026-03-29", "2026-10-25", "2027-03-28", "2027-10-31"}));
    // Chile's clocks change at midnight: in April 24:00 becomes 23:00 again (the day ends with
    // an hour twice: steady, each time its first occurrence, as at_local maps it), and in
    // September 24:00 becomes 01:00 (the next day has no midnight: unsteady).
    const auto santiago = unsteady_days(Calendar("America/Santiago"));
    EXPECT_EQ(santiago, (std::vector<std::string>{"2026-09-06", "2027-09-05"}));
    const LocalDay first = *Calendar::parse_day("2026-01-01");
    const LocalDay last = *Calendar::parse_day("2027-12-31");
    const Calendar utc("UTC");
    for (LocalDay day = first; day <= last; ++day) {
        ASSERT_EQ(utc.steady_midnight(day), Instant{std::int64_t{day} * seconds_per_day});
    }
}

TEST(DaylightSaving, NightSchedulesNeverPutTwoSlotsOfOneResourceAtOnce) {
    auto loaded = load_region_text(night_unit(R"(
        appointment_types: [{id: t, name: Jourbesök, web_name: Jourbesök, web_bookable: true,
                             duration_min: 30}]
        schedules:
          - {resource: natt, appointment_type: t, weekdays: [sun], from: "01:00", to: "04:00",
             valid_from: 2026-03-29, valid_to: 2026-03-29}
          - {resource: natt, appointment_type: t, weekdays: [sun], from: "01:00", to: "04:00",
             valid_from: 2026-10-25, valid_to: 2026-10-25}
)"),
                                   "dst");
    ASSERT_TRUE(loaded.ok());
    FixedClock clock(Instant{0});
    Engine engine(std::move(*loaded.catalog), clock);
    std::vector<std::string> spring, autumn;
    for (std::uint32_t i = 0; i < engine.slot_count(); ++i) {
        auto v = *engine.slot(SlotId{i});
        std::string start = engine.calendar().format(v.start);
        (start.rfind("2026-03-29", 0) == 0 ? spring : autumn).push_back(start);
        if (i > 0) {
            auto prev = *engine.slot(SlotId{i - 1});
            EXPECT_LE(prev.end.value, v.start.value) << "overlap at " << start;
        }
    }
    // 02:00-03:00 does not exist on the spring night.
    EXPECT_EQ(spring,
              (std::vector<std::string>{"2026-03-29T01:00:00+01:00", "2026-03-29T01:30:00+01:00",
                                        "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"}));
    // In autumn 02:00-03:00 comes twice; the schedule's wall-clock starts take the first.
    EXPECT_EQ(autumn.size(), 6U);
    EXPECT_EQ(autumn[2], "2026-10-25T02:00:00+02:00");
}

// ---- ended visits, events, refusal order --------------------------------------------------

TEST_F(Edges, EndedVisitsDoNotCountAgainstThePatientsLimit) {
    for (int d = 0; d < 20; ++d) {  // twenty weekdays of visits, each one over before the next
        char when[32];
        const int day = 2 + d + 2 * (d / 5);  // Monday 03-02 on, weekends skipped
        std::snprintf(when, sizeof when, "2026-03-%02dT08:00", day);
        auto b = book(staff(), slot("r1", "all3", when), patient(1));
        ASSERT_TRUE(b.ok()) << when << " " << b.message;
        clock->set(Instant{b.value.slot.end.value});
    }
}

// A patient's list forgets visits that have ended by the clock. A test clock moved back (admin
// clock) makes such a booking current again while the list no longer holds it; a rebook of it
// into a full list is refused like a new booking, and nothing changes (found by the fuzz run at
// 79fef6e: the rebook tripped record_booking's assert).
TEST_F(Edges, ARebookOfABookingTheFullListForgotIsRefusedAndChangesNothing) {
    std::vector<BookingView> made;
    for (int d = 0; made.size() < 17; ++d) {  // weekdays from Monday 03-02 on
        char when[32];
        const int day = 2 + d + 2 * (d / 5);
        std::snprintf(when, sizeof when, "2026-03-%02dT08:00", day);
        if (made.size() == 16) clock->set(Instant{made[0].slot.end.value});  // the first is over
        auto b = book(staff(), slot("r1", "all3", when), patient(1));
        ASSERT_TRUE(b.ok()) << when << " " << b.message;
        made.push_back(b.value);
    }
    // The 17th booking made the list forget the first; the clock goes back before it.
    clock->set(at("2026-03-02T07:00:00+01:00"));
    const SlotId target = slot("r1", "all3", "2026-03-02T08:20");
    auto moved = engine->rebook(staff(), RebookRequest{made[0].id, target, {}});
    EXPECT_EQ(moved.code, ErrorCode::patient_already_occupied) << moved.message;
    const auto first = engine->booking(made[0].id);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->active);
    EXPECT_EQ(engine->slot(made[0].slot.id)->state, SlotState::booked);
    EXPECT_EQ(engine->slot(target)->state, SlotState::free);
}

TEST_F(Edges, ACancelEventShowsTheStateTheCancelLeft) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    drain_events();
    ASSERT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    std::vector<Event> out(4);
    ASSERT_EQ(engine->events().drain(out), 1U);
    EXPECT_EQ(out[0].after.state, SlotState::free);
    EXPECT_EQ(out[0].after.booking.value, 0U);
    EXPECT_EQ(out[0].after.version, out[0].before.version + 1);
}

TEST_F(Edges, InvalidRequestComesBeforeEverythingElse) {
    auto a = book(web(), slot("r2", "norebook", "2026-03-03T13:00"), patient(1));
    ASSERT_TRUE(a.ok());
    // Not rebookable, and an unknown slot: the unknown slot is reported.
    EXPECT_EQ(rebook(web(), a.value.id, SlotId{9999999}, patient(1)).code,
              ErrorCode::invalid_request);
    EXPECT_EQ(rebook(web(), BookingId{777}, SlotId{9999999}, patient(1)).code,
              ErrorCode::invalid_request);
    // A type of another unit, or a resource of another unit, in a first-match booking.
    BookRequest r;
    r.patient = patient(2);
    SlotQuery q;
    q.unit = unit("u2");
    q.type = type("hidden");
    r.match = q;
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::invalid_request);
    q.unit = unit("u3");
    q.type.reset();
    q.resource = resource("r1");
    r.match = q;
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::invalid_request);
}

TEST_F(Edges, ARebookIntoAnOverlapIsRefusedAndKeepsTheBooking) {
    auto early = book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    auto late = book(staff(), slot("r1", "all3", "2026-03-03T09:00"), patient(1));
    ASSERT_TRUE(early.ok() && late.ok());
    auto r = rebook(staff(), late.value.id, slot("r2", "all3", "2026-03-03T08:00"), {});
    EXPECT_EQ(r.code, ErrorCode::patient_already_occupied);
    EXPECT_TRUE(engine->booking(late.value.id)->active);
    EXPECT_EQ(engine->slot(slot("r2", "all3", "2026-03-03T08:00"))->state, SlotState::free);
}

TEST_F(Edges, StartedSlotsAreRefusedForHoldsAndRebookTargets) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    clock->set(at("2026-03-02T08:30:00"));
    EXPECT_EQ(engine->hold(web(), slot("r1", "all3", "2026-03-02T08:20"), patient(2)).code,
              ErrorCode::slot_has_passed);
    EXPECT_EQ(rebook(web(), a.value.id, slot("r1", "all3", "2026-03-02T08:20"), patient(1)).code,
              ErrorCode::slot_has_passed);
    EXPECT_TRUE(engine->booking(a.value.id)->active);
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

// ---- found in review: capacity, order, the patient's list, schedule changes ----------------

using TinyPatients = RegionWith<&EngineLimits::patients_max, 2>;

TEST_F(TinyPatients, FromWaitlistRefusalsCostNoPatientCapacity) {
    for (int i = 0; i < 5; ++i) {
        BookRequest r;
        r.slot = slot("r1", "all3", "2026-03-03T08:00");
        r.patient = patient(100 + i);
        r.from_waitlist = true;
        ASSERT_EQ(engine->book(staff(), r).code, ErrorCode::invalid_request);
    }
    EXPECT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:20"), patient(1)).ok());
}

TEST_F(Edges, FromWaitlistWithoutAnEntryIsInvalidBeforeTheSlotIsLookedAt) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    ASSERT_TRUE(book(web(), s, patient(1)).ok());
    BookRequest r;
    r.slot = s;  // taken: SLOT_ALREADY_RESERVED would come later in the order
    r.patient = patient(2);
    r.from_waitlist = true;
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::invalid_request);
    r.slot = slot("r2", "hidden", "2026-03-03T09:00");  // not for the web either
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::invalid_request);
}

TEST_F(Edges, FromTheWaitlistByFirstMatchNamesTheType) {
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("norebook"), patient(5)).ok());
    BookRequest r;
    r.patient = patient(5);
    r.from_waitlist = true;
    SlotQuery q;
    q.unit = unit("u1");
    q.resource = resource("r2");
    r.match = q;
    auto untyped = engine->book(staff(), r);
    EXPECT_EQ(untyped.code, ErrorCode::invalid_request);
    EXPECT_EQ(untyped.field, "appointment_type");
    q.type = type("norebook");
    r.match = q;
    auto b = engine->book(staff(), r);
    ASSERT_TRUE(b.ok()) << b.message;
    EXPECT_EQ(b.value.slot.type, type("norebook"));
    EXPECT_TRUE(engine->waitlist(staff(), unit("u1")).value.empty());
}

TEST_F(Edges, ARebookWithAFullListKeepsEveryPatientsRecordIntact) {
    std::vector<BookingId> mine;
    for (const char* d : {"03", "04", "05", "06", "09", "10", "11", "12", "13", "16", "17", "18",
                          "19", "20", "23", "24"}) {  // 16 = patient_bookings_max
        const std::string when = std::string("2026-03-") + d + "T08:00";
        auto b = book(staff(), slot("r1", "all3", when.c_str()), patient(1));
        ASSERT_TRUE(b.ok()) << when;
        mine.push_back(b.value.id);
    }
    ASSERT_TRUE(book(staff(), slot("r2", "all3", "2026-03-03T08:00"), patient(2)).ok());
    EXPECT_EQ(book(staff(), slot("r1", "all3", "2026-03-25T08:20"), patient(1)).code,
              ErrorCode::patient_already_occupied);  // the seventeenth
    ASSERT_TRUE(rebook(staff(), mine[0], slot("r1", "all3", "2026-03-25T08:00"), {}).ok());
    EXPECT_EQ(engine->bookings(staff(), patient(1)).value.size(), 16U);
    // The next patient's record is untouched: their overlap rule still holds.
    EXPECT_EQ(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(2)).code,
              ErrorCode::patient_already_occupied);
}

TEST_F(Edges, R16_RebookFirstSkipsSlotsThatOverlapThePatientsOtherBookings) {
    ASSERT_TRUE(book(staff(), slot("r2", "all3", "2026-03-02T08:00"), patient(1)).ok());
    auto src = book(web(), slot("r1", "all3", "2026-03-09T08:00"), patient(1));
    ASSERT_TRUE(src.ok());
    auto r = engine->rebook(web(), RebookRequest{src.value.id, std::nullopt, patient(1)});
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(r.value.booking.slot.id, slot("r1", "all3", "2026-03-02T08:20"));
}

TEST_F(Edges, ATypeSwapToTheSameTypeIsRefusedAndTheSlotStays) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    EXPECT_EQ(engine->change_slot_type(staff(), s, type("all3")).code, ErrorCode::invalid_request);
    EXPECT_TRUE(listed(find(staff(), "u1"), s));
}

TEST_F(Edges, R13_APublishedSlotMayNotOverlapTheResourcesSlots) {
    auto p = engine->publish_slot(staff(), resource("r1"), type("all3"), at("2026-03-03T08:10"));
    EXPECT_EQ(p.code, ErrorCode::invalid_request);
    EXPECT_EQ(p.field, "start");
    EXPECT_TRUE(
        engine->publish_slot(staff(), resource("r1"), type("all3"), at("2026-03-03T12:00")).ok());
}

TEST_F(Edges, R14_RemovedSlotsStayRemovedWhenTheTypeIsScheduledAgain) {
    SlotId booked = slot("r2", "win1", "2026-03-03T11:00");
    SlotId was_free = slot("r2", "win1", "2026-03-03T11:15");
    auto a = book(staff(), booked, patient(1));
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(engine->remove_type(staff(), unit("u1"), type("win1")).ok());
    auto fresh =
        engine->publish_slot(staff(), resource("r2"), type("win1"), at("2026-03-04T15:00"));
    ASSERT_TRUE(fresh.ok());
    ASSERT_TRUE(engine->cancel(staff(), a.value.id, {}).ok());
    EXPECT_EQ(engine->slot(booked)->state, SlotState::blocked);
    EXPECT_EQ(engine->slot(was_free)->state, SlotState::blocked);
    EXPECT_EQ(engine->slot(fresh.value.id)->state, SlotState::free);  // the new one is bookable
}

// The slots a group of schedules lays out, one schedule and one slot at a time through the
// zone's look-up, sorted plainly: what expand_group did before it took the steady days' short
// way and spread itself over the cores, and what it must still give, id for id.
std::vector<SlotSeed> plain_expansion(const Catalog& catalog, const Calendar& calendar) {
    std::vector<SlotSeed> seeds;
    for (std::uint32_t i = 0; i < catalog.schedules.size(); ++i) {
        const Schedule& s = catalog.schedules[i];
        const int duration = catalog.type(s.type).duration_min;
        for (LocalDay day = s.valid_from_day; day <= s.valid_to_day; ++day) {
            if ((s.weekdays & (1U << Calendar::weekday(day))) == 0) continue;
            const std::int64_t block_end = calendar.at_local(day, s.to_min).value;
            std::int64_t free_from = INT64_MIN;
            for (int m = s.from_min; m + duration <= s.to_min; m += duration) {
                const auto start = calendar.existing_local(day, m);
                if (!start || start->value < free_from ||
                    start->value + duration * seconds_per_minute > block_end) {
                    continue;
                }
                seeds.push_back({start->value, s.resource.value, s.type.value,
                                 static_cast<std::uint16_t>(duration), s.window_days, i});
                free_from = start->value + duration * seconds_per_minute;
            }
        }
    }
    std::stable_sort(seeds.begin(), seeds.end(), [](const SlotSeed& a, const SlotSeed& b) {
        return std::tie(a.resource, a.start_s) < std::tie(b.resource, b.start_s);
    });
    std::vector<SlotSeed> kept;
    for (const SlotSeed& s : seeds) {
        if (!kept.empty() && kept.back().resource == s.resource &&
            kept.back().start_s + kept.back().duration_min * seconds_per_minute > s.start_s) {
            continue;
        }
        kept.push_back(s);
    }
    std::stable_sort(kept.begin(), kept.end(), [](const SlotSeed& a, const SlotSeed& b) {
        return std::tie(a.resource, a.type, a.start_s) < std::tie(b.resource, b.type, b.start_s);
    });
    return kept;
}

// Twelve out-of-hours centres, 72 schedules: enough for the layout to take every core
// (expand_group goes parallel from 64); a resource's schedules are interleaved with the
// others' in the file, and the night ones cross both daylight-saving nights.
Catalog twelve_centres() {
    std::string units;
    for (int u = 0; u < 12; ++u) {
        const std::string k = std::to_string(u);
        units += R"(
      - id: jour)" +
                 k + R"(
        name: Jourcentralen )" +
                 k + R"(
        web: {booking_active: true, cancel_rebook_active: true}
        resources:
          - {id: natt)" +
                 k + R"(, type: person, name: Nattläkare Berg}
          - {id: dag)" +
                 k + R"(, type: person, name: Distriktsläkare Ek}
          - {id: rum)" +
                 k + R"(, type: room, name: Rum 3}
        appointment_types:
          - {id: t60-)" +
                 k + R"(, name: Lång, web_name: Lång, web_bookable: true, duration_min: 60}
          - {id: t30-)" +
                 k + R"(, name: Kort, web_name: Kort, web_bookable: true, duration_min: 30}
          - {id: t20-)" +
                 k + R"(, name: Tjugo, web_name: Tjugo, web_bookable: true, duration_min: 20}
        schedules:
          - {resource: natt)" +
                 k + R"(, appointment_type: t20-)" + k +
                 R"(, weekdays: [mon, tue, wed, thu, fri, sat],
             from: "00:00", to: "06:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: dag)" +
                 k + R"(, appointment_type: t30-)" + k + R"(, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "12:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: natt)" +
                 k + R"(, appointment_type: t60-)" + k +
                 R"(, weekdays: [sun], from: "01:30", to: "02:30",
             valid_from: 2026-01-04, valid_to: 2026-12-27}
          - {resource: rum)" +
                 k + R"(, appointment_type: t60-)" + k + R"(, weekdays: [sat, sun], from: "00:00",
             to: "23:00", valid_from: 2026-03-01, valid_to: 2026-11-30}
          - {resource: natt)" +
                 k + R"(, appointment_type: t30-)" + k +
                 R"(, weekdays: [sun], from: "02:30", to: "04:00",
             valid_from: 2026-01-04, valid_to: 2026-12-27}
          - {resource: dag)" +
                 k + R"(, appointment_type: t20-)" + k + R"(, weekdays: [mon, tue, wed, thu, fri],
             from: "13:00", to: "16:40", valid_from: 2026-01-01, valid_to: 2026-12-31})";
    }
    auto loaded = load_region_text(R"(
timezone: Europe/Stockholm
providers:
  - id: p
    name: Region
    units:)" + units + "\n",
                                   "expansion");
    EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                     ? std::string()
                                     : loaded.diagnostics.front().path + ": " +
                                           loaded.diagnostics.front().message);
    return loaded.ok() ? std::move(*loaded.catalog) : Catalog{};
}

// Same seeds, field by field, in the same order.
void expect_same_seeds(const std::vector<SlotSeed>& seeds, const std::vector<SlotSeed>& expected,
                       const Calendar& calendar) {
    ASSERT_EQ(seeds.size(), expected.size());
    for (std::size_t i = 0; i < seeds.size(); ++i) {
        ASSERT_EQ(std::tie(seeds[i].start_s, seeds[i].resource, seeds[i].type,
                           seeds[i].duration_min, seeds[i].schedule, seeds[i].window_days),
                  std::tie(expected[i].start_s, expected[i].resource, expected[i].type,
                           expected[i].duration_min, expected[i].schedule, expected[i].window_days))
            << "slot " << i << " at " << calendar.format(Instant{seeds[i].start_s});
    }
}

TEST(DaylightSaving, TheRegionsSlotsAreLaidOutAsOneCoreSlotBySlotWouldLayThemOut) {
    const Catalog catalog = twelve_centres();
    ASSERT_EQ(catalog.schedules.size(), 72U);
    const Calendar calendar(catalog.timezone);
    const auto expected = plain_expansion(catalog, calendar);
    ASSERT_GT(expected.size(), 100'000U);
    expect_same_seeds(expand_region(catalog, calendar), expected, calendar);
}

// A later group over slots already published (a schedule extended, published again): what
// overlaps a published slot of its resource is left out, the rest laid out as one core would.
TEST(DaylightSaving, ALaterGroupIsLaidOutAroundThePublishedSlotsAsOneCoreWould) {
    const Catalog catalog = twelve_centres();
    ASSERT_EQ(catalog.schedules.size(), 72U);
    const Calendar calendar(catalog.timezone);
    // Published first: every schedule up to 2026-06-30.
    Catalog first = catalog;
    const LocalDay june_30 = *Calendar::parse_day("2026-06-30");
    for (Schedule& s : first.schedules) s.valid_to_day = std::min(s.valid_to_day, june_30);
    const SlotIndex index(first, calendar, std::size_t{1} << 20);
    // Expected: the whole year's slots, less those overlapping a first-half slot of their
    // resource (by a plain search of the first half's slots).
    std::map<std::uint32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> published;
    for (const SlotSeed& f : plain_expansion(first, calendar)) {
        published[f.resource].emplace_back(f.start_s,
                                           f.start_s + f.duration_min * seconds_per_minute);
    }
    // A resource's published slots do not overlap each other: sorted by start, the one that
    // starts last before a slot's end is the only one that can overlap it.
    for (auto& [resource, taken] : published) std::sort(taken.begin(), taken.end());
    std::vector<SlotSeed> expected;
    for (const SlotSeed& e : plain_expansion(catalog, calendar)) {
        const std::int64_t end = e.start_s + e.duration_min * seconds_per_minute;
        const auto& taken = published[e.resource];
        auto after = std::lower_bound(taken.begin(), taken.end(),
                                      std::pair<std::int64_t, std::int64_t>{end, INT64_MIN});
        if (after == taken.begin() || std::prev(after)->second <= e.start_s) expected.push_back(e);
    }
    ASSERT_GT(expected.size(), 50'000U);
    expect_same_seeds(expand_group(catalog, calendar, catalog.schedules, &index), expected,
                      calendar);
}

TEST(DaylightSaving, AdjacentSchedulesNeverOverlapOnTheSpringNight) {
    auto loaded = load_region_text(night_unit(R"(
        appointment_types:
          - {id: t60, name: Lång, web_name: Lång, web_bookable: true, duration_min: 60}
          - {id: t30, name: Kort, web_name: Kort, web_bookable: true, duration_min: 30}
        schedules:
          - {resource: natt, appointment_type: t60, weekdays: [sun], from: "01:30", to: "02:30",
             valid_from: 2026-03-29, valid_to: 2026-03-29}
          - {resource: natt, appointment_type: t30, weekdays: [sun], from: "02:30", to: "04:00",
             valid_from: 2026-03-29, valid_to: 2026-03-29}
)"),
                                   "dst-adjacent");
    ASSERT_TRUE(loaded.ok());
    FixedClock clock(Instant{0});
    Engine engine(std::move(*loaded.catalog), clock);
    ASSERT_GT(engine.slot_count(), 0U);
    for (std::uint32_t i = 0; i < engine.slot_count(); ++i) {
        for (std::uint32_t j = i + 1; j < engine.slot_count(); ++j) {
            auto a = *engine.slot(SlotId{i});
            auto b = *engine.slot(SlotId{j});
            EXPECT_FALSE(a.start.value < b.end.value && b.start.value < a.end.value)
                << engine.calendar().format(a.start) << " overlaps "
                << engine.calendar().format(b.start);
        }
    }
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

using FourBookings = RegionWith<&EngineLimits::bookings_max, 4>;

// Ended bookings give their records back: four records carry a thousand bookings, and an old
// booking id never reaches the record's next booking.
TEST_F(FourBookings, EndedBookingsFreeTheirRecordsAndOldIdsStayEnded) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    SlotId t = slot("r1", "all3", "2026-03-03T08:20");
    std::vector<BookingId> seen;
    for (int i = 0; i < 1000; ++i) {
        auto b = book(web(), s, patient(i % 50));
        ASSERT_TRUE(b.ok()) << i << " " << b.message;
        auto r = rebook(web(), b.value.id, t, patient(i % 50));
        ASSERT_TRUE(r.ok()) << i;
        ASSERT_TRUE(engine->cancel(web(), r.value.booking.id, patient(i % 50)).ok()) << i;
        seen.push_back(b.value.id);
        drain_events();
    }
    EXPECT_NE(seen.front(), seen.back());  // same record, another generation
    for (BookingId old : {seen.front(), seen[500]}) {
        // The record has been reused: its owner can no longer be shown to a citizen.
        EXPECT_EQ(engine->cancel(web(), old, patient(0)).code, ErrorCode::booking_not_found);
        EXPECT_EQ(engine->cancel(staff(), old, {}).code, ErrorCode::booking_already_cancelled);
        auto v = engine->booking(old);
        ASSERT_TRUE(v.has_value());
        EXPECT_FALSE(v->active);
    }
    // A live booking in a reused record is reachable only by its own id.
    auto live = book(web(), s, patient(7));
    ASSERT_TRUE(live.ok());
    EXPECT_TRUE(engine->booking(live.value.id)->active);
    EXPECT_EQ(engine->booking(live.value.id)->patient, patient(7));
    EXPECT_EQ(
        engine->cancel(web(), BookingId{live.value.id.value + (std::uint64_t{1} << 40)}, patient(7))
            .code,
        ErrorCode::booking_not_found);  // a generation that has not happened yet
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

TEST_F(Edges, AJustEndedBookingAnswersItsOwnerOnly) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    EXPECT_EQ(engine->cancel(web(), a.value.id, patient(1)).code,
              ErrorCode::booking_already_cancelled);
    EXPECT_EQ(engine->cancel(web(), a.value.id, patient(2)).code, ErrorCode::booking_not_found);
    EXPECT_EQ(engine->cancel(staff("u2"), a.value.id, {}).code, ErrorCode::unauthorized);
    EXPECT_EQ(engine->cancel(staff(), a.value.id, {}).code, ErrorCode::booking_already_cancelled);
}

TEST_F(FourBookings, RecordsFreedOnAnotherThreadAreReused) {
    std::vector<BookingId> made;
    for (const char* t : {"08:00", "08:20", "08:40", "09:00"}) {
        auto b = book(staff(), slot("r1", "all3", (std::string("2026-03-03T") + t).c_str()),
                      patient(static_cast<int>(made.size())));
        ASSERT_TRUE(b.ok());
        made.push_back(b.value.id);
    }
    std::thread other([&] {
        for (BookingId b : made) ASSERT_TRUE(engine->cancel(staff(), b, {}).ok());
    });
    other.join();
    drain_events();
    // All four records came back, though another thread freed them.
    for (const char* t : {"08:00", "08:20", "08:40", "09:00"}) {
        auto again = book(staff(), slot("r1", "all3", (std::string("2026-03-04T") + t).c_str()),
                          patient(20));
        EXPECT_TRUE(again.ok()) << t << " " << again.message;
    }
}

TEST_F(Edges, TwoCancelsOfOneBookingGetOneSuccessAndOneAlreadyCancelled) {
#if defined(__SANITIZE_THREAD__)
    constexpr int rounds = 300;
#else
    constexpr int rounds = 3000;
#endif
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    for (int round = 0; round < rounds; ++round) {
        auto a = book(staff(), s, patient(1));
        ASSERT_TRUE(a.ok());
        std::atomic<int> go{0};
        ErrorCode codes[2];
        auto cancel = [&](int who) {
            go.fetch_add(1);
            while (go.load() < 2) {
            }
            codes[who] = engine->cancel(staff(), a.value.id, {}).code;
        };
        std::thread t0(cancel, 0), t1(cancel, 1);
        t0.join();
        t1.join();
        const int ok = (codes[0] == ErrorCode::ok) + (codes[1] == ErrorCode::ok);
        ASSERT_EQ(ok, 1) << "round " << round;
        const ErrorCode other = codes[0] == ErrorCode::ok ? codes[1] : codes[0];
        ASSERT_EQ(other, ErrorCode::booking_already_cancelled) << "round " << round;
        drain_events();
    }
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

class ThreeBookingsTwoLanes : public RuleRegion {
  protected:
    EngineLimits limits() const override {
        EngineLimits l;
        l.bookings_max = 3;
        l.event_lanes = 2;
        return l;
    }
};

// One live booking in a table of three, two freed. While an operation holds its lane (a cancel
// paused before its CAS), a booking on another lane must still find a freed record: near the
// end of a table freed records are not kept in lanes.
TEST_F(ThreeBookingsTwoLanes, FreedRecordsAreFoundWhileAnotherLaneIsBusy) {
    if (!failpoint::compiled_in()) GTEST_SKIP() << "needs a build with SLOTMATCH_FAILPOINTS";
    const SlotId s1 = slot("r1", "all3", "2026-03-03T08:00");
    const SlotId s2 = slot("r1", "all3", "2026-03-03T08:20");
    const SlotId s3 = slot("r1", "all3", "2026-03-03T08:40");
    std::mutex m;
    std::condition_variable cv;
    bool paused = false, resume = false;
    Outcome<BookingView> other;
    std::thread t([&] {
        auto b1 = book(web(), s1, patient(1));
        auto b2 = book(web(), s2, patient(2));
        auto b3 = book(web(), s3, patient(3));
        ASSERT_TRUE(b1.ok() && b2.ok() && b3.ok());
        ASSERT_TRUE(engine->cancel(staff(), b1.value.id, {}).ok());
        ASSERT_TRUE(engine->cancel(staff(), b2.value.id, {}).ok());
        // Now: 1 live booking, 2 free records in this thread's lane cache, table exhausted.
        failpoint::set("release_source:before_cas", [&] {
            std::unique_lock lock(m);
            paused = true;
            cv.notify_all();
            cv.wait(lock, [&] { return resume; });
        });
        EXPECT_TRUE(engine->cancel(staff(), b3.value.id, {}).ok());
    });
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return paused; });
    }
    other = book(web(), s1, patient(4));  // another thread, while the cancel holds lane P
    {
        std::lock_guard lock(m);
        resume = true;
        cv.notify_all();
    }
    t.join();
    EXPECT_TRUE(other.ok()) << "refused: " << static_cast<int>(other.code) << " " << other.message
                            << " (2 of 3 records free)";
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

using FourHolds = RegionWith<&EngineLimits::holds_max, 4>;

// Hold records come back once the expiry sweep has passed their hold: four records carry a
// thousand holds, whether they were booked, left to expire, or lost to a race.
TEST_F(FourHolds, HoldRecordsAreReusedAfterTheSweep) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    SlotId t = slot("r1", "all3", "2026-03-03T08:20");
    std::vector<HoldId> old;
    for (int i = 0; i < 1000; ++i) {
        auto h = engine->hold(web(), s, patient(1));
        ASSERT_TRUE(h.ok()) << i << " " << h.message;
        old.push_back(h.value.id);
        ASSERT_EQ(engine->hold(web(), s, patient(2)).code, ErrorCode::slot_already_reserved);
        if (i % 2 == 0) {  // booked through the hold, then cancelled
            BookRequest r;
            r.hold = h.value.id;
            r.patient = patient(1);
            auto b = engine->book(web(), r);
            ASSERT_TRUE(b.ok()) << i << " " << b.message;
            ASSERT_TRUE(engine->cancel(web(), b.value.id, patient(1)).ok());
        }
        auto other = engine->hold(web(), t, patient(3));  // left to expire
        ASSERT_TRUE(other.ok()) << i;
        clock->advance_s(301);
        engine->expire_holds();
        drain_events();
        clock->set(at("2026-03-02T07:00:00"));  // back to the test's morning
    }
    EXPECT_NE(old.front(), old.back());  // one record, another generation
    BookRequest r;
    r.hold = old.front();
    r.patient = patient(1);
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::hold_expired);
    EXPECT_EQ(engine->slot(s)->state, SlotState::free);
}

// Holds, bookings through them, cancels and the expiry sweep at once (run under TSan too).
TEST_F(Edges, HoldsBookingsAndTheSweepRunTogether) {
    std::vector<SlotId> hot;
    for (const char* t : {"08:00", "08:20", "08:40", "09:00"}) {
        hot.push_back(slot("r1", "all3", (std::string("2026-03-03T") + t).c_str()));
    }
#if defined(__SANITIZE_THREAD__)
    constexpr int ops = 400;
#else
    constexpr int ops = 4000;
#endif
    std::atomic<bool> done{false};
    std::thread sweeper([&] {
        while (!done.load()) {  // the sweep and the journal's drain, as a server runs them
            engine->expire_holds();
            drain_events();
            std::this_thread::yield();
        }
    });
    std::vector<std::thread> workers;
    std::atomic<int> booked{0};
    for (int w = 0; w < 3; ++w) {
        workers.emplace_back([&, w] {
            for (int i = 0; i < ops; ++i) {
                const SlotId s = hot[static_cast<std::size_t>(i + w) % hot.size()];
                auto h = engine->hold(web(), s, patient(w));
                if (!h.ok()) continue;
                BookRequest r;
                r.hold = h.value.id;
                r.patient = patient(w);
                auto b = engine->book(web(), r);
                if (!b.ok()) continue;
                ++booked;
                EXPECT_TRUE(engine->cancel(web(), b.value.id, patient(w)).ok());
            }
        });
    }
    for (auto& t : workers) t.join();
    done.store(true);
    sweeper.join();
    clock->advance_s(3600);
    engine->expire_holds();
    EXPECT_GT(booked.load(), 0);
    for (SlotId s : hot) EXPECT_EQ(engine->slot(s)->state, SlotState::free);
}

}  // namespace
}  // namespace slotmatch::testing
