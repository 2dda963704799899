// Slot identity and schedules (issue 11; docs/engine.md, "Slot identity"): a slot's id is given
// when its schedule is published and never changes; the region file is the seed, recorded on a
// new store and diffed against it at every start; staff publish, extend and end schedules live
// (R13, R14). Every engine here that has a store is rebuilt from the events another published.
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "store_history.hpp"

namespace slotmatch::testing {
namespace {

// The rule region on a new store, its seed recorded (null if it could not start).
class SlotIdentity : public StoreHistory {
  protected:
    std::unique_ptr<Engine> started(const std::string& yaml = rule_region_yaml) {
        auto e = from_store(yaml);
        if (e) start(*e);
        return e;
    }
    static LocalDay day(const char* iso) { return *Calendar::parse_day(iso); }
    static EventScan scan_of(const std::vector<Event>& events) {
        return [&events](const std::function<bool(const Event&)>& visit, std::string&) {
            for (const Event& e : events) {
                if (!visit(e)) break;
            }
            return true;
        };
    }
    // The (last) schedule of resource `res` and type `typ`.
    ScheduleId schedule_of(const Engine& e, const char* res, const char* typ) const {
        ScheduleId found;
        for (const ScheduleView& s : e.schedules()) {
            if (s.schedule.resource == resource(res) && s.schedule.type == type(typ)) found = s.id;
        }
        return found;
    }
    // `e`'s events collected, and an engine rebuilt from the store, which must be in the same
    // state (null if it could not start).
    std::unique_ptr<Engine> restarted(Engine& e, const std::string& yaml = rule_region_yaml) {
        collect(e);
        auto again = from_store(yaml);
        if (again) {
            EXPECT_EQ(again->state_hash(), e.state_hash()) << "the state after a restart";
        }
        return again;
    }
    // Ends schedule `id` after `last` (no orphans accepted unless `accept`).
    Outcome<ScheduleView> end_after(Engine& e, ScheduleId id, const char* last,
                                    bool accept = false) const {
        std::vector<BookingId> in_the_way;
        return e.end_schedule(staff(), id, day(last), accept, in_the_way);
    }
};

TEST_F(SlotIdentity, ANewStoreRecordsTheSeedAndRestoresItWithTheSameIds) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    EXPECT_TRUE(last.seed_unrecorded);
    start(*first);
    const Catalog& c = first->catalog();
    // One event per unit, resource and type, then one per schedule of the first group.
    EXPECT_EQ(log.size(),
              c.units.size() + c.resources.size() + c.types.size() + c.schedules.size());
    ASSERT_TRUE(
        book_on(*first, staff(), slot_of(*first, "r1", "all3", "2026-03-03T08:00"), patient(1))
            .ok());
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again);
    EXPECT_FALSE(last.seed_unrecorded);
    EXPECT_EQ(last.schedules, c.schedules.size());
    EXPECT_EQ(again->slot_count(), first->slot_count());
    EXPECT_EQ(again->state_hash(), first->state_hash());
    EXPECT_TRUE(again->seed_changes().empty());
}

// The scenario: a booking, a schedule extended in the region file by a month, a start
// on the same store: every booking and every slot id is kept, and the new days are published.
TEST_F(SlotIdentity, ARegionFileScheduleExtendedKeepsEveryBookingAndSlotId) {
    const std::string before = region_with_r1_all3_until("2026-06-30");
    auto first = from_store(before);
    ASSERT_TRUE(first);
    start(*first);
    const SlotId booked = slot_of(*first, "r2", "all3", "2026-03-04T08:00");
    const auto booking = book_on(*first, staff(), booked, patient(2));
    ASSERT_TRUE(booking.ok());
    collect(*first);
    const std::size_t slots_before = first->slot_count();
    std::vector<SlotView> views;
    for (std::uint32_t i = 0; i < slots_before; ++i) views.push_back(*first->slot(SlotId{i}));

    auto second = from_store(region_with_r1_all3_until("2026-07-31"));
    ASSERT_TRUE(second);
    const auto changes = second->seed_changes();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].kind, SeedChange::Kind::extend);
    EXPECT_EQ(changes[0].day, day("2026-07-31"));
    start(*second);
    for (std::uint32_t i = 0; i < slots_before; ++i) {
        const SlotView v = *second->slot(SlotId{i});
        EXPECT_EQ(v.start, views[i].start) << "slot " << i;
        EXPECT_EQ(v.resource, views[i].resource) << "slot " << i;
        EXPECT_EQ(v.type, views[i].type) << "slot " << i;
        EXPECT_EQ(v.state, views[i].state) << "slot " << i;
    }
    const auto kept = second->booking(booking.value.id);
    ASSERT_TRUE(kept && kept->active);
    EXPECT_EQ(kept->slot.id, booked);
    const SlotId july = slot_of(*second, "r1", "all3", "2026-07-15T08:00");
    EXPECT_GE(july.value, slots_before) << "the new days take the next ids";

    auto third = from_store(region_with_r1_all3_until("2026-07-31"));
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->seed_changes().empty());
    EXPECT_EQ(third->state_hash(), second->state_hash());
}

// A booked slot's removal is refused: a schedule the region file shortens past a booking
// refuses the start and names the booking, and changes nothing; accepted as orphans, the
// booking stays a booking of a slot that is no longer offered.
TEST_F(SlotIdentity, ARegionFileScheduleShortenedPastABookingIsRefusedNamingIt) {
    auto first = started();
    ASSERT_TRUE(first);
    const auto booking =
        book_on(*first, staff(), slot_of(*first, "r1", "all3", "2026-09-01T08:00"), patient(3));
    ASSERT_TRUE(booking.ok());
    collect(*first);

    const std::string shorter = region_with_r1_all3_until("2026-06-30");
    auto refused = from_store(shorter);
    ASSERT_TRUE(refused);
    const std::uint64_t hash = refused->state_hash();
    const auto in_the_way = start(*refused, false, ErrorCode::slot_already_reserved);
    ASSERT_EQ(in_the_way.size(), 1u);
    EXPECT_EQ(in_the_way[0], booking.value.id);
    EXPECT_EQ(refused->state_hash(), hash) << "a refusal changes nothing";

    auto accepted = from_store(shorter);
    ASSERT_TRUE(accepted);
    start(*accepted, true);
    const auto orphan = accepted->booking(booking.value.id);
    ASSERT_TRUE(orphan && orphan->active) << "an orphaned booking stays a booking";
    const SlotId july = slot_of(*accepted, "r1", "all3", "2026-07-15T08:00");
    EXPECT_EQ(accepted->slot(july)->state, SlotState::blocked) << "free slots after June removed";
    EXPECT_EQ(book_on(*accepted, staff(), july, patient(8)).code, ErrorCode::slot_not_available);
    ASSERT_TRUE(accepted->cancel(staff(), booking.value.id, {}).ok());
    EXPECT_EQ(accepted->slot(orphan->slot.id)->state, SlotState::blocked)
        << "cancelled, the orphan's slot is removed too";
}

TEST_F(SlotIdentity, ANewScheduleInTheRegionFilePublishesWithTheNextIds) {
    auto first = started();
    ASSERT_TRUE(first);
    const std::size_t slots_before = first->slot_count();
    std::string yaml = rule_region_yaml;
    const std::string anchor = "          - {resource: r2, appointment_type: all3,";
    yaml.insert(yaml.find(anchor),
                "          - {resource: r2, appointment_type: all3, weekdays: [sat],\n"
                "             from: \"09:00\", to: \"11:00\", valid_from: 2026-03-01, "
                "valid_to: 2026-04-30}\n");
    auto second = from_store(yaml);
    ASSERT_TRUE(second);
    const auto changes = second->seed_changes();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].kind, SeedChange::Kind::publish);
    start(*second);
    EXPECT_GT(second->slot_count(), slots_before);
    EXPECT_GE(slot_of(*second, "r2", "all3", "2026-03-07T09:00").value, slots_before);
    auto third = from_store(yaml);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->state_hash(), second->state_hash());
}

TEST_F(SlotIdentity, ARegionFileWithItsResourcesReorderedIsRefusedNamingOne) {
    auto first = started();
    ASSERT_TRUE(first);
    std::string yaml = rule_region_yaml;
    const std::string a = "          - {id: r1, type: person, name: Anna Berg}\n";
    const std::string b = "          - {id: r2, type: position, name: Distriktssköterska}\n";
    yaml.replace(yaml.find(a + b), (a + b).size(), b + a);
    std::string why;
    EXPECT_FALSE(from_store(yaml, &why));
    EXPECT_NE(why.find("resource r1"), std::string::npos) << why;
}

// A start that stopped while it recorded the seed left half of the first group: the next
// start lays the seed out again and records it whole.
TEST_F(SlotIdentity, ASeedRecordCutShortIsRecordedAgain) {
    auto first = started();
    ASSERT_TRUE(first);
    const std::size_t whole = log.size();
    log.resize(whole - 3);  // the crash cut: the last schedules of the group are missing
    auto second = from_store(rule_region_yaml);
    ASSERT_TRUE(second);
    EXPECT_TRUE(last.seed_unrecorded);
    start(*second);
    auto third = from_store(rule_region_yaml);
    ASSERT_TRUE(third);
    EXPECT_FALSE(last.seed_unrecorded);
    EXPECT_EQ(third->state_hash(), first->state_hash());
}

class Schedules : public SlotIdentity {
  protected:
    Schedule saturday_schedule(const char* res = "r2", const char* typ = "all3") const {
        Schedule s;
        s.resource = resource(res);
        s.type = type(typ);
        s.weekdays = 1u << 5;  // Saturday
        s.from_min = 9 * 60;
        s.to_min = 11 * 60;
        s.valid_from_day = day("2026-03-07");
        s.valid_to_day = day("2026-04-25");
        return s;
    }
};

// R13: slots of a newly published schedule are bookable at once, on the web too.
TEST_F(Schedules, R13_APublishedScheduleIsBookableAtOnce) {
    const std::size_t before = engine->slot_count();
    const auto published = engine->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok()) << published.message;
    EXPECT_EQ(published.value.slots, 8u * 6u);  // eight Saturdays, six 20-minute slots each
    const SlotId first = slot("r2", "all3", "2026-03-07T09:00");
    EXPECT_GE(first.value, before);
    EXPECT_TRUE(listed(find(web(), "u1"), first)) << "visible on the web at once";
    EXPECT_TRUE(book(web(), first, patient(4)).ok());
}

TEST_F(Schedules, OverlappingOrForeignSchedulesAreRefusedAndChangeNothing) {
    const std::uint64_t hash = engine->state_hash();
    Schedule overlapping = saturday_schedule("r1");
    overlapping.weekdays = 1u;  // Monday: r1's all3 hours
    overlapping.from_min = 8 * 60;
    EXPECT_EQ(engine->publish_schedule(staff(), overlapping).code, ErrorCode::invalid_request);
    EXPECT_EQ(engine->publish_schedule(staff("u2"), saturday_schedule()).code,
              ErrorCode::unauthorized);
    EXPECT_EQ(engine->publish_schedule(web(), saturday_schedule()).code, ErrorCode::unauthorized);
    Schedule no_days = saturday_schedule();
    no_days.weekdays = 0;
    EXPECT_EQ(engine->publish_schedule(staff(), no_days).code, ErrorCode::invalid_request);
    EXPECT_EQ(engine->state_hash(), hash);
    EXPECT_EQ(drain_events(), 0u) << "a refusal publishes no event";
}

// R14: ending a schedule takes its free slots after the day at once; a booked one refuses the
// end (naming the booking) and nothing changes.
TEST_F(Schedules, R14_EndingAScheduleRemovesItsFreeSlotsButNeverABookedOne) {
    const auto published = engine->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    const SlotId booked = slot("r2", "all3", "2026-04-04T09:00");
    const auto booking = book(staff(), booked, patient(5));
    ASSERT_TRUE(booking.ok());
    const std::uint64_t hash = engine->state_hash();
    std::vector<BookingId> in_the_way;
    const auto refused =
        engine->end_schedule(staff(), published.value.id, day("2026-03-21"), false, in_the_way);
    EXPECT_EQ(refused.code, ErrorCode::slot_already_reserved);
    ASSERT_EQ(in_the_way.size(), 1u);
    EXPECT_EQ(in_the_way[0], booking.value.id);
    EXPECT_EQ(engine->state_hash(), hash);
    const auto ended =
        engine->end_schedule(staff(), published.value.id, day("2026-04-04"), false, in_the_way);
    ASSERT_TRUE(ended.ok()) << ended.message;
    EXPECT_EQ(ended.value.removed, 3u * 6u);  // the three Saturdays after 4 April
    const SlotId gone = slot("r2", "all3", "2026-04-11T09:00");
    EXPECT_FALSE(listed(find(staff(), "u1"), gone));
    EXPECT_EQ(book(staff(), gone, patient(6)).code, ErrorCode::slot_not_available);
    EXPECT_EQ(engine->slot(booked)->state, SlotState::booked);
}

// Publications, extensions and ends recorded as events give the same state after a restart.
TEST_F(Schedules, PublishExtendAndEndSurviveARestartWithTheirIds) {
    auto first = started();
    ASSERT_TRUE(first);
    const auto published = first->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    ASSERT_TRUE(first->extend_schedule(staff(), published.value.id, day("2026-05-30")).ok());
    ASSERT_TRUE(
        book_on(*first, staff(), slot_of(*first, "r2", "all3", "2026-05-16T09:20"), patient(7))
            .ok());
    ASSERT_TRUE(end_after(*first, published.value.id, "2026-05-16").ok());
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again);
    EXPECT_EQ(last.schedules_ended, 1u);
    EXPECT_EQ(again->state_hash(), first->state_hash());
    const auto s = again->schedule(published.value.id);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schedule.valid_to_day, day("2026-05-16"));
    EXPECT_TRUE(again->seed_changes().empty()) << "a live schedule is not the region file's";
}

// R10 as the seed schedules it ("Schemalägg ... Fylla i antal dagar"): a schedule published
// with a day count shows its slots on the web from local midnight N - 1 days before their day,
// whatever its type's count; the type's other slots keep the type's (all3: none, 60 days). A
// changed count is in force at once, and both survive a restart.
TEST_F(Schedules, R10_AScheduleDayCountDecidesWhenItsSlotsShowOnTheWeb) {
    auto first = started();
    ASSERT_TRUE(first);
    Schedule three_days = saturday_schedule();
    three_days.window_days = 3;  // a Saturday shows from Thursday's midnight
    const auto published = first->publish_schedule(staff(), three_days);
    ASSERT_TRUE(published.ok()) << published.message;
    const SlotId saturday = slot_of(*first, "r2", "all3", "2026-03-07T09:00");
    const SlotId weekday = slot_of(*first, "r2", "all3", "2026-04-20T08:00");  // the type's
    const auto seen = [&](Engine& e, const Actor& a, SlotId s) {
        SlotQuery q;
        q.unit = unit("u1");
        q.resource = resource("r2");
        q.type = type("all3");
        q.limit = 1000;
        for (const SlotView& v : e.find(a, q).value) {
            if (v.id == s) return true;
        }
        return false;
    };
    const auto on_web = [&](Engine& e, SlotId s) { return seen(e, web(), s); };
    EXPECT_FALSE(on_web(*first, saturday)) << "Monday: the Saturday is 5 days ahead";
    EXPECT_TRUE(on_web(*first, weekday)) << "the type's own slots: 60 days ahead";
    EXPECT_EQ(first->hold(web(), saturday, patient(1)).code, ErrorCode::slot_not_available);
    EXPECT_TRUE(seen(*first, staff(), saturday)) << "staff see every slot";
    clock->set(at("2026-03-05T00:00:00+01:00"));  // Thursday's midnight
    EXPECT_TRUE(on_web(*first, saturday));
    EXPECT_FALSE(on_web(*first, slot_of(*first, "r2", "all3", "2026-03-14T09:00")));
    // The count changed to none: the type's, 60 days ahead.
    const auto changed = first->set_schedule_day_count(staff(), published.value.id, 0);
    ASSERT_TRUE(changed.ok()) << changed.message;
    EXPECT_TRUE(on_web(*first, slot_of(*first, "r2", "all3", "2026-03-14T09:00")));
    EXPECT_EQ(first->set_schedule_day_count(staff("u2"), published.value.id, 5).code,
              ErrorCode::unauthorized);
    EXPECT_EQ(first->set_schedule_day_count(staff(), published.value.id, 367).code,
              ErrorCode::invalid_request);
    ASSERT_TRUE(first->set_schedule_day_count(staff(), published.value.id, 2).ok());
    EXPECT_FALSE(on_web(*first, saturday)) << "Thursday: 2 days shows Friday's slots only";
    auto again = restarted(*first);
    ASSERT_TRUE(again);
    EXPECT_FALSE(on_web(*again, saturday));
    EXPECT_EQ(again->schedule(published.value.id)->schedule.window_days, 2);
}

// The region file gives a schedule a day count: the next start applies it to the schedule's
// slots (an event, printed), and a restart after that finds nothing more to change.
TEST_F(SlotIdentity, R10_ADayCountGivenInTheRegionFileAppliesToTheSchedulesSlots) {
    auto first = started();
    ASSERT_TRUE(first);
    std::string yaml = rule_region_yaml;
    const std::string line = "valid_from: 2026-01-01, valid_to: 2026-12-31}";
    const auto at_r1 = yaml.find("{resource: r1, appointment_type: all3,");
    const auto end = yaml.find(line, at_r1);
    ASSERT_NE(end, std::string::npos);
    yaml.replace(end, line.size(), "valid_from: 2026-01-01, valid_to: 2026-12-31, window_days: 2}");
    auto second = from_store(yaml);
    ASSERT_TRUE(second);
    const auto changes = second->seed_changes();
    ASSERT_EQ(changes.size(), 1U);
    EXPECT_EQ(changes[0].kind, SeedChange::Kind::day_count);
    start(*second);
    SlotQuery q;
    q.unit = unit("u1");
    q.resource = resource("r1");
    q.type = type("all3");
    q.limit = 1000;
    for (const SlotView& v : second->find(web(), q).value) {
        EXPECT_LT(v.start.value, at("2026-03-04T00:00:00+01:00").value) << "Monday: two days";
    }
    EXPECT_FALSE(second->find(web(), q).value.empty());
    auto third = from_store(yaml);
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->seed_changes().empty());
    EXPECT_EQ(third->state_hash(), second->state_hash());
}

// R14 and R13 over a schedule's life: a removed slot's time is offered again. A schedule ended
// and extended again publishes the days it had lost; a slot removed by itself makes room for a
// slot added at its time; all of it comes back the same after a restart.
TEST_F(Schedules, R14_ARemovedSlotsTimeIsOfferedAgainAndSurvivesARestart) {
    auto first = started();
    ASSERT_TRUE(first);
    const auto published = first->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    std::vector<BookingId> in_the_way;
    const auto ended =
        first->end_schedule(staff(), published.value.id, day("2026-03-21"), false, in_the_way);
    ASSERT_TRUE(ended.ok()) << ended.message;
    EXPECT_EQ(ended.value.removed, 5U * 6U);  // 28 March to 25 April
    const SlotId old = slot_of(*first, "r2", "all3", "2026-04-04T09:00");
    const auto extended = first->extend_schedule(staff(), published.value.id, day("2026-05-30"));
    ASSERT_TRUE(extended.ok()) << extended.message;
    EXPECT_EQ(extended.value.slots - published.value.slots, 10U * 6U)
        << "the five Saturdays it had lost, and five more";
    SlotQuery q;
    q.unit = unit("u1");
    q.resource = resource("r2");
    q.type = type("all3");
    q.from = at("2026-04-04T00:00");
    q.to = at("2026-04-05T00:00");
    const auto april = first->find(staff(), q);
    ASSERT_EQ(april.value.size(), 6U) << "one slot at each time, the new ones";
    EXPECT_NE(april.value[0].id, old);
    EXPECT_EQ(first->slot(old)->state, SlotState::blocked) << "the removed slot stays removed";
    ASSERT_TRUE(book_on(*first, web(), april.value[0].id, patient(11)).ok());

    // One slot removed, and another added at its time.
    const SlotId single = april.value[1].id;
    ASSERT_TRUE(first->remove_slot(staff(), single).ok());
    const auto added =
        first->publish_slot(staff(), resource("r2"), type("all3"), first->slot(single)->start);
    ASSERT_TRUE(added.ok()) << added.message;
    EXPECT_EQ(first->publish_slot(staff(), resource("r2"), type("all3"), added.value.start).code,
              ErrorCode::invalid_request)
        << "a slot that is not removed still holds its time";
    auto again = restarted(*first);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->slot_count(), first->slot_count());
}

// A removed slot that is still booked (an orphan, accepted at an end) keeps its time until its
// booking is moved or cancelled: publishing over it is refused and changes nothing.
TEST_F(Schedules, R14_AnOrphansTimeIsNotOfferedAgainWhileItIsBooked) {
    const auto published = engine->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    const SlotId booked = slot("r2", "all3", "2026-04-04T09:00");
    const auto booking = book(staff(), booked, patient(12));
    ASSERT_TRUE(booking.ok());
    std::vector<BookingId> in_the_way;
    ASSERT_TRUE(
        engine->end_schedule(staff(), published.value.id, day("2026-03-21"), true, in_the_way)
            .ok());
    ASSERT_EQ(in_the_way.size(), 1U);
    drain_events();
    const std::uint64_t hash = engine->state_hash();
    EXPECT_EQ(engine->extend_schedule(staff(), published.value.id, day("2026-05-30")).code,
              ErrorCode::slot_already_reserved);
    EXPECT_EQ(
        engine->publish_slot(staff(), resource("r2"), type("all3"), at("2026-04-04T09:00")).code,
        ErrorCode::slot_already_reserved);
    EXPECT_EQ(engine->state_hash(), hash);
    EXPECT_EQ(drain_events(), 0U) << "a refusal publishes no event";
    ASSERT_TRUE(engine->cancel(staff(), booking.value.id, {}).ok());
    EXPECT_TRUE(engine->extend_schedule(staff(), published.value.id, day("2026-05-30")).ok());
}

// R13 and R14: a slot whose type staff changed is still its schedule's, so the schedule's end
// removes it too, and recovery finds the same slots.
TEST_F(Schedules, R14_AnEndRemovesTheSchedulesSlotsWhoseTypeChanged) {
    auto first = started();
    ASSERT_TRUE(first);
    const auto published = first->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    const SlotId retyped = slot_of(*first, "r2", "all3", "2026-04-11T09:00");
    ASSERT_TRUE(first->change_slot_type(staff(), retyped, type("norecancel")).ok());
    std::vector<BookingId> in_the_way;
    const auto ended =
        first->end_schedule(staff(), published.value.id, day("2026-03-21"), false, in_the_way);
    ASSERT_TRUE(ended.ok());
    EXPECT_EQ(ended.value.removed, 5U * 6U);
    EXPECT_EQ(first->slot(retyped)->state, SlotState::blocked);
    auto again = restarted(*first);
    ASSERT_TRUE(again);
}

// Nothing counted over a store's life stops it: a schedule extended again and again reaches
// past two years from its first day (staff add at most two years at a time).
TEST_F(Schedules, AScheduleIsExtendedPastTwoYearsFromItsFirstDay) {
    Schedule s = saturday_schedule();
    s.valid_to_day = day("2027-12-31");
    const auto published = engine->publish_schedule(staff(), s);
    ASSERT_TRUE(published.ok()) << published.message;
    const auto extended = engine->extend_schedule(staff(), published.value.id, day("2029-06-30"));
    ASSERT_TRUE(extended.ok()) << extended.message;
    EXPECT_EQ(engine->extend_schedule(staff(), published.value.id, day("2031-12-31")).code,
              ErrorCode::invalid_request)
        << "more than two years at once";
    EXPECT_TRUE(engine->extend_schedule(staff(), published.value.id, day("2031-06-30")).ok());
}

// The region file changes a schedule's hours: the old schedule ends and the new one takes over
// its time. Its slots that the new hours still cover stay, bookings and ids included; the hours
// it no longer has lose their free slots; the new hours get new slots. A booking in the hours
// it no longer has refuses the start.
TEST_F(SlotIdentity, ARegionFileScheduleWithNewHoursKeepsTheBookingsItStillCovers) {
    auto first = started();
    ASSERT_TRUE(first);
    const SlotId kept = slot_of(*first, "r1", "all3", "2026-09-01T08:20");
    const auto booking = book_on(*first, staff(), kept, patient(13));
    ASSERT_TRUE(booking.ok());
    collect(*first);
    const std::size_t slots_before = first->slot_count();

    std::string yaml = rule_region_yaml;
    const std::string old_hours = "from: \"08:00\", to: \"10:00\"";
    yaml.replace(yaml.find(old_hours, yaml.find("{resource: r1, appointment_type: all3,")),
                 old_hours.size(), "from: \"07:00\", to: \"09:00\"");
    auto second = from_store(yaml);
    ASSERT_TRUE(second);
    const auto changes = second->seed_changes();
    ASSERT_EQ(changes.size(), 2U);
    EXPECT_EQ(changes[0].kind, SeedChange::Kind::end);
    EXPECT_EQ(changes[1].kind, SeedChange::Kind::publish);
    EXPECT_EQ(changes[0].replaced_by.value, second->schedules().size() + 1);
    start(*second);
    const auto still = second->booking(booking.value.id);
    ASSERT_TRUE(still && still->active);
    EXPECT_EQ(still->slot.id, kept);
    EXPECT_EQ(second->slot(slot_of(*second, "r1", "all3", "2026-09-01T08:40"))->state,
              SlotState::free)
        << "a free slot in the hours both have stays";
    EXPECT_LT(slot_of(*second, "r1", "all3", "2026-09-01T08:40").value, slots_before);
    EXPECT_EQ(second->slot(slot_of(*second, "r1", "all3", "2026-09-01T09:20"))->state,
              SlotState::blocked)
        << "the hours it no longer has are removed";
    const SlotId early = slot_of(*second, "r1", "all3", "2026-09-01T07:00");
    EXPECT_GE(early.value, slots_before) << "the new hours take the next ids";
    EXPECT_EQ(second->slot(early)->state, SlotState::free);
    collect(*second);
    auto third = from_store(yaml);
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->seed_changes().empty());
    EXPECT_EQ(third->state_hash(), second->state_hash());

    // A booking in the hours the file drops: the end is refused, naming it.
    ASSERT_TRUE(
        book_on(*third, staff(), slot_of(*third, "r1", "all3", "2026-09-02T07:20"), patient(14))
            .ok());
    collect(*third);
    std::string narrower = yaml;
    const std::string new_hours = "from: \"07:00\", to: \"09:00\"";
    narrower.replace(narrower.find(new_hours), new_hours.size(), "from: \"08:00\", to: \"09:00\"");
    auto refused = from_store(narrower);
    ASSERT_TRUE(refused);
    std::vector<BookingId> in_the_way;
    bool named = false;
    for (const SeedChange& c : refused->seed_changes()) {
        named = named || refused->seed_end_in_the_way(c, in_the_way);
    }
    EXPECT_TRUE(named) << "the start's check before it applies anything";
}

// A live change the region file then repeats is recorded as the file's, so a start with the
// same file changes nothing (staff ended a seed schedule early; the file then ends it later).
TEST_F(SlotIdentity, AFileChangeThatStaffMadeLiveAlreadyIsNotAppliedAgain) {
    auto first = started();
    ASSERT_TRUE(first);
    const ScheduleId r1_all3 = schedule_of(*first, "r1", "all3");
    ASSERT_TRUE(end_after(*first, r1_all3, "2026-06-15").ok());
    ASSERT_TRUE(first->extend_schedule(staff(), r1_all3, day("2026-06-20")).ok());
    collect(*first);
    const std::string yaml = region_with_r1_all3_until("2026-06-30");
    auto second = from_store(yaml);
    ASSERT_TRUE(second);
    start(*second);
    EXPECT_EQ(second->schedule(r1_all3)->schedule.valid_to_day, day("2026-06-20"))
        << "the file's day lies inside what staff made it: nothing to remove";
    collect(*second);
    auto third = from_store(yaml);
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->seed_changes().empty()) << "the same file: nothing to change";
    EXPECT_EQ(third->state_hash(), second->state_hash());
}

// Nothing counted over a store's life stops a start: a region whose live schedules outgrew
// its region file's several times over starts with tables sized from the store, and its last
// slot is booked like its first.
TEST_F(SlotIdentity, AStoreThatOutgrewTheRegionFileStartsWithRoomForAllOfIt) {
    auto first = started();
    ASSERT_TRUE(first);
    const std::size_t seed_room = first->room().bookings;
    Schedule s;  // every day, all day, for two years: 10-minute slots of norebook on r2
    s.resource = resource("r2");
    s.type = type("norebook");
    s.weekdays = 0x7F;
    s.from_min = 0;
    s.to_min = 24 * 60;
    s.valid_from_day = day("2027-01-01");
    s.valid_to_day = day("2028-12-30");
    const auto published = first->publish_schedule(staff(), s);
    ASSERT_TRUE(published.ok()) << published.message;
    ASSERT_GT(first->slot_count(), seed_room) << "more slots than the seed's tables hold";
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again) << "a start is never refused for its store's size";
    EXPECT_GE(again->room().bookings, 2 * again->slot_count());
    EXPECT_GE(again->room().patients, again->slot_count());
    const SlotId last{static_cast<std::uint32_t>(again->slot_count() - 1)};
    EXPECT_TRUE(book_on(*again, staff(), last, patient(15)).ok());
}

// R10: a day count changed between an end and an extension applies to the days the schedule
// had then; recovery gives the same slots the same counts.
TEST_F(Schedules, R10_ADayCountChangedAfterAnEndIsRestoredOnTheDaysItHadThen) {
    auto first = started();
    ASSERT_TRUE(first);
    const auto published = first->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    ASSERT_TRUE(end_after(*first, published.value.id, "2026-03-21").ok());
    ASSERT_TRUE(first->set_schedule_day_count(staff(), published.value.id, 3).ok());
    ASSERT_TRUE(first->extend_schedule(staff(), published.value.id, day("2026-05-30")).ok());
    auto again = restarted(*first);
    ASSERT_TRUE(again);
}

// R14: a schedule ended twice, with a slot added in between at a time the first end removed:
// the second end walks only the days the schedule still had, live and in recovery.
TEST_F(Schedules, R14_ASecondEndLeavesTheTimesTheFirstOneFreedAlone) {
    auto first = started();
    ASSERT_TRUE(first);
    const auto published = first->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    ASSERT_TRUE(end_after(*first, published.value.id, "2026-04-04").ok());
    const auto added =
        first->publish_slot(staff(), resource("r2"), type("all3"), at("2026-04-18T09:00"));
    ASSERT_TRUE(added.ok()) << added.message;
    Schedule other = saturday_schedule("r2", "norecancel");
    other.from_min = 10 * 60;
    other.valid_from_day = day("2026-04-11");
    ASSERT_TRUE(first->publish_schedule(staff(), other).ok());
    const SlotId others = slot_of(*first, "r2", "norecancel", "2026-04-25T10:00");
    ASSERT_TRUE(end_after(*first, published.value.id, "2026-03-21").ok());
    EXPECT_EQ(first->slot(added.value.id)->state, SlotState::free);
    EXPECT_EQ(first->slot(others)->state, SlotState::free);
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->slot(added.value.id)->state, SlotState::free) << "recovery removed it";
    EXPECT_EQ(again->slot(others)->state, SlotState::free);
    EXPECT_EQ(again->state_hash(), first->state_hash());
}

// A store written before slot ids were kept whose booked slot lies beyond what the region file
// lays out is refused, naming the slot, not started with a booking of no slot.
TEST_F(SlotIdentity, AStoreWithASlotBeyondTheLayoutIsRefused) {
    auto first = started();
    ASSERT_TRUE(first);
    // The last slot of the layout that staff can book, and its schedule then cut short.
    std::optional<SlotView> last;
    for (std::uint32_t i = static_cast<std::uint32_t>(first->slot_count()); i-- > 0 && !last;) {
        const SlotView v = *first->slot(SlotId{i});
        const std::string unit = first->catalog().unit(v.unit).id;
        if (book_on(*first, staff(unit.c_str()), v.id, patient(21)).ok()) last = v;
    }
    ASSERT_TRUE(last);
    collect(*first);
    std::vector<Event> legacy;  // as written before publications were recorded
    for (const Event& ev : log) {
        if (ev.kind == EventKind::schedule_published || ev.kind == EventKind::schedule_extended ||
            ev.kind == EventKind::schedule_ended || ev.kind == EventKind::schedule_changed ||
            ev.kind == EventKind::entity_recorded) {
            continue;
        }
        legacy.push_back(ev);
        legacy.back().seq = legacy.size();
    }
    log = legacy;
    std::string yaml = rule_region_yaml;
    const std::string key = "{resource: " + first->catalog().resource(last->resource).id +
                            ", appointment_type: " + first->catalog().type(last->type).id + ",";
    const auto at = yaml.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    const auto to = yaml.find("valid_to: 2026-12-31", at);
    yaml.replace(to, std::string("valid_to: 2026-12-31").size(), "valid_to: 2026-03-31");
    std::string why;
    EXPECT_FALSE(from_store(yaml, &why));
    EXPECT_NE(why.find("in the store does not match"), std::string::npos) << why;
}

// Staff ended a seed schedule whole; the region file then extends it: the start records the
// file's day and lays out nothing, and a start with the same file changes nothing.
TEST_F(SlotIdentity, AFileExtendingAScheduleStaffEndedWholeChangesNoSlot) {
    auto first = started();
    ASSERT_TRUE(first);
    const ScheduleId r1_all3 = schedule_of(*first, "r1", "all3");
    ASSERT_TRUE(end_after(*first, r1_all3, "2025-12-31").ok());
    collect(*first);
    const std::string yaml = region_with_r1_all3_until("2027-01-31");
    auto second = from_store(yaml);
    ASSERT_TRUE(second);
    const std::size_t slots = second->slot_count();
    start(*second);
    EXPECT_TRUE(second->schedule(r1_all3)->ended);
    EXPECT_EQ(second->slot_count(), slots);
    collect(*second);
    auto third = from_store(yaml);
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->seed_changes().empty());
    EXPECT_EQ(third->state_hash(), second->state_hash());
}

// A hot standby lays out the first publication group ahead (Engine::prelay, issue 14): the
// restore at its takeover keeps it when the store records the same group, with everything that
// happened after the prelay applied on top, in the state the primary had.
TEST_F(SlotIdentity, AStandbysPrelaidFirstGroupIsKeptAndTheHistoryAfterItApplied) {
    auto primary = started();
    ASSERT_TRUE(primary);
    const std::size_t seed_slots = primary->slot_count();
    ASSERT_TRUE(
        book_on(*primary, staff(), slot_of(*primary, "r1", "all3", "2026-03-03T08:00"), patient(1))
            .ok());
    collect(*primary);
    const std::vector<Event> before = log;
    auto loaded = load_region_text(rule_region_yaml, "standby");
    Engine standby(std::move(*loaded.catalog), *clock, limits(), Engine::Seed::none);
    std::string why;
    EXPECT_EQ(standby.prelay(scan_of(before), why), seed_slots) << why;
    EXPECT_EQ(standby.slot_count(), seed_slots);
    // The primary goes on: a booking, a cancellation, a schedule ended (R14), an extension.
    ASSERT_TRUE(
        book_on(*primary, staff(), slot_of(*primary, "r1", "all3", "2026-03-03T08:20"), patient(2))
            .ok());
    ASSERT_TRUE(end_after(*primary, schedule_of(*primary, "r1", "all3"), "2026-11-30").ok());
    collect(*primary);
    const auto summary = standby.restore(scan_of(log), why);
    ASSERT_TRUE(summary) << why;
    EXPECT_EQ(summary->prelaid_slots, seed_slots);
    EXPECT_EQ(standby.state_hash(), primary->state_hash());
    EXPECT_EQ(standby.slot_count(), primary->slot_count());
    auto cold = from_store(rule_region_yaml);
    ASSERT_TRUE(cold);
    EXPECT_EQ(last.prelaid_slots, 0u);
    EXPECT_EQ(cold->state_hash(), standby.state_hash());
    // And it serves as the primary did: the next booking gets the next id.
    const auto next =
        book_on(standby, staff(), slot_of(standby, "r1", "all3", "2026-03-03T08:40"), patient(3));
    ASSERT_TRUE(next.ok());
}

// A start from a snapshot (slotmatchd): restore() lays the first group out from the events
// given as `ahead` on one thread while it reads every event on another, keeps it, and rebuilds
// the state a cold recovery rebuilds.
TEST_F(SlotIdentity, ARestoreLaysTheFirstGroupOutWhileItReadsTheEvents) {
    auto primary = started();
    ASSERT_TRUE(primary);
    const std::size_t seed_slots = primary->slot_count();
    const std::vector<Event> seed = log;  // what a snapshot keeps of the first publication
    ASSERT_TRUE(
        book_on(*primary, staff(), slot_of(*primary, "r1", "all3", "2026-03-03T08:00"), patient(1))
            .ok());
    ASSERT_TRUE(end_after(*primary, schedule_of(*primary, "r1", "all3"), "2026-11-30").ok());
    collect(*primary);
    auto loaded = load_region_text(rule_region_yaml, "restarted");
    Engine restarted(std::move(*loaded.catalog), *clock, limits(), Engine::Seed::none);
    std::string why;
    const EventScan ahead = scan_of(seed);
    const auto summary = restarted.restore(scan_of(log), why, nullptr, &ahead);
    ASSERT_TRUE(summary) << why;
    EXPECT_EQ(summary->prelaid_slots, seed_slots);
    EXPECT_EQ(restarted.state_hash(), primary->state_hash());
    auto cold = from_store(rule_region_yaml);
    ASSERT_TRUE(cold);
    EXPECT_EQ(last.prelaid_slots, 0u);
    EXPECT_EQ(cold->state_hash(), restarted.state_hash());
}

// A prelaid group the store does not record (the standby read another store, or the first
// group was recorded again with other schedules) is dropped and the store's laid out.
TEST_F(SlotIdentity, APrelaidGroupTheStoreDoesNotRecordIsLaidOutAgain) {
    auto other = started(region_with_r1_all3_until("2026-06-30"));
    ASSERT_TRUE(other);
    const std::vector<Event> others = log;
    log.clear();
    auto primary = started();
    ASSERT_TRUE(primary);
    ASSERT_NE(primary->slot_count(), other->slot_count());
    auto loaded = load_region_text(rule_region_yaml, "standby");
    Engine standby(std::move(*loaded.catalog), *clock, limits(), Engine::Seed::none);
    std::string why;
    EXPECT_EQ(standby.prelay(scan_of(others), why), other->slot_count()) << why;
    const auto summary = standby.restore(scan_of(log), why);
    ASSERT_TRUE(summary) << why;
    EXPECT_EQ(summary->prelaid_slots, 0u);
    EXPECT_EQ(standby.slot_count(), primary->slot_count());
    EXPECT_EQ(standby.state_hash(), primary->state_hash());

    // Events that record no whole first group: nothing is laid out ahead.
    Engine empty(std::move(*load_region_text(rule_region_yaml, "standby").catalog), *clock,
                 limits(), Engine::Seed::none);
    const std::vector<Event> entities_only(log.begin(), log.begin() + 3);
    EXPECT_EQ(empty.prelay(scan_of(entities_only), why), 0u);
    EXPECT_EQ(empty.slot_count(), 0u);
}

}  // namespace
}  // namespace slotmatch::testing
