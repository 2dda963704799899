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

class SlotIdentity : public StoreHistory {};

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
    EXPECT_EQ(changes[0].day, *Calendar::parse_day("2026-07-31"));
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
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
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
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
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
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
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
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
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

class Schedules : public StoreHistory {
  protected:
    Schedule saturday_schedule(const char* res = "r2", const char* typ = "all3") const {
        Schedule s;
        s.resource = resource(res);
        s.type = type(typ);
        s.weekdays = 1u << 5;  // Saturday
        s.from_min = 9 * 60;
        s.to_min = 11 * 60;
        s.valid_from_day = *Calendar::parse_day("2026-03-07");
        s.valid_to_day = *Calendar::parse_day("2026-04-25");
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
    const auto refused = engine->end_schedule(
        staff(), published.value.id, *Calendar::parse_day("2026-03-21"), false, in_the_way);
    EXPECT_EQ(refused.code, ErrorCode::slot_already_reserved);
    ASSERT_EQ(in_the_way.size(), 1u);
    EXPECT_EQ(in_the_way[0], booking.value.id);
    EXPECT_EQ(engine->state_hash(), hash);
    const auto ended = engine->end_schedule(staff(), published.value.id,
                                            *Calendar::parse_day("2026-04-04"), false, in_the_way);
    ASSERT_TRUE(ended.ok()) << ended.message;
    EXPECT_EQ(ended.value.removed, 3u * 6u);  // the three Saturdays after 4 April
    const SlotId gone = slot("r2", "all3", "2026-04-11T09:00");
    EXPECT_FALSE(listed(find(staff(), "u1"), gone));
    EXPECT_EQ(book(staff(), gone, patient(6)).code, ErrorCode::slot_not_available);
    EXPECT_EQ(engine->slot(booked)->state, SlotState::booked);
}

// Publications, extensions and ends recorded as events give the same state after a restart.
TEST_F(Schedules, PublishExtendAndEndSurviveARestartWithTheirIds) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    const auto published = first->publish_schedule(staff(), saturday_schedule());
    ASSERT_TRUE(published.ok());
    ASSERT_TRUE(
        first->extend_schedule(staff(), published.value.id, *Calendar::parse_day("2026-05-30"))
            .ok());
    ASSERT_TRUE(
        book_on(*first, staff(), slot_of(*first, "r2", "all3", "2026-05-16T09:20"), patient(7))
            .ok());
    std::vector<BookingId> in_the_way;
    ASSERT_TRUE(first
                    ->end_schedule(staff(), published.value.id, *Calendar::parse_day("2026-05-16"),
                                   false, in_the_way)
                    .ok());
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again);
    EXPECT_EQ(last.schedules_ended, 1u);
    EXPECT_EQ(again->state_hash(), first->state_hash());
    const auto s = again->schedule(published.value.id);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schedule.valid_to_day, *Calendar::parse_day("2026-05-16"));
    EXPECT_TRUE(again->seed_changes().empty()) << "a live schedule is not the region file's";
}

// R10 as the seed schedules it ("Schemalägg ... Fylla i antal dagar"): a schedule published
// with a day count shows its slots on the web from local midnight N - 1 days before their day,
// whatever its type's count; the type's other slots keep the type's (all3: none, 60 days). A
// changed count is in force at once, and both survive a restart.
TEST_F(Schedules, R10_AScheduleDayCountDecidesWhenItsSlotsShowOnTheWeb) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
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
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->state_hash(), first->state_hash());
    EXPECT_FALSE(on_web(*again, saturday));
    EXPECT_EQ(again->schedule(published.value.id)->schedule.window_days, 2);
}

// The region file gives a schedule a day count: the next start applies it to the schedule's
// slots (an event, printed), and a restart after that finds nothing more to change.
TEST_F(SlotIdentity, R10_ADayCountGivenInTheRegionFileAppliesToTheSchedulesSlots) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
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

}  // namespace
}  // namespace slotmatch::testing
