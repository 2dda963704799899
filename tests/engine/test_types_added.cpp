// Appointment types added live (issue 11, docs/engine.md "Appointment types added live"): a new
// type is in force at once for everyone (R1-R8, R10), only the right actors add it (R8), it
// survives restarts with its number, and a region file that adds types later numbers them after
// it.
#include <atomic>
#include <thread>

#include "engine_fixture.hpp"
#include "store_history.hpp"

namespace slotmatch::testing {
namespace {

// A region-wide vaccination type citizens book on the web (R1-R4), ten minutes long.
NewType vaccination(const std::string& id = "vacc") {
    NewType n;
    n.id = id;
    n.name = "Vaccination";
    n.duration_min = 10;
    n.settings.web_name = "Vaccination mot influensa";
    n.settings.web_info = "Ta med vaccinationskortet.";
    n.settings.web_bookable = n.settings.web_cancellable = n.settings.web_rebookable = true;
    n.settings.window_days = 30;
    return n;
}

class TypesAdded : public StoreHistory {
  protected:
    Actor region_admin(const char* unit_id = "u1") const {
        Actor a = staff(unit_id);
        a.region_admin = true;
        return a;
    }
    // Saturdays 09:00-11:00 on r2 in March and April 2026, of type `t`.
    Schedule saturdays(TypeIdx t) const {
        Schedule s;
        s.resource = resource("r2");
        s.type = t;
        s.weekdays = 1u << 5;
        s.from_min = 9 * 60;
        s.to_min = 11 * 60;
        s.valid_from_day = day("2026-03-07");
        s.valid_to_day = day("2026-04-25");
        return s;
    }
    static LocalDay day(const char* iso) { return *Calendar::parse_day(iso); }
    // `text` put into the region file's text before the first `anchor`.
    static void insert_before(std::string& yaml, const std::string& anchor,
                              const std::string& text) {
        const auto at = yaml.find(anchor);
        SM_ASSERT(at != std::string::npos);
        yaml.insert(at, text);
    }
    static TypeIdx type_in(const Engine& e, const char* id) {
        const auto t = e.catalog().find_type(id);
        SM_ASSERT(t.has_value());
        return *t;
    }
    SlotId slot_in(const Engine& e, TypeIdx t, const char* iso) const {
        for (std::uint32_t i = 0; i < e.slot_count(); ++i) {
            const auto v = e.slot(SlotId{i});
            if (v->type == t && v->start == at(iso)) return v->id;
        }
        ADD_FAILURE() << "no slot of the type at " << iso;
        return SlotId{0};
    }
};

// R1-R4, R9, R13: a type a region administrator adds is in the catalog, schedulable and
// bookable on the web at once, with its internal name, web texts, duration and day count.
TEST_F(TypesAdded, R9_ATypeAddedLiveIsScheduledAndBookedOnTheWebAtOnce) {
    const std::uint32_t before = engine->type_count();
    const auto added = engine->add_type(region_admin(), vaccination());
    ASSERT_TRUE(added.ok()) << added.message;
    EXPECT_EQ(added.value.value, before) << "numbered after every type there is";
    EXPECT_EQ(engine->type_count(), before + 1);
    ASSERT_EQ(engine->catalog().find_type("vacc"), added.value);
    const AppointmentType& t = engine->type_now(added.value);
    EXPECT_EQ(t.name, "Vaccination");
    EXPECT_EQ(t.duration_min, 10);
    EXPECT_TRUE(t.region_wide);
    EXPECT_EQ(t.window_days, 30);
    const Catalog now = engine->catalog_now();
    EXPECT_EQ(now.type(added.value).web_name, "Vaccination mot influensa");

    const auto published = engine->publish_schedule(staff(), saturdays(added.value));
    ASSERT_TRUE(published.ok()) << published.message;
    EXPECT_EQ(published.value.slots, 8u * 12u) << "eight Saturdays of twelve ten-minute slots";
    const SlotId first = slot_in(*engine, added.value, "2026-03-07T09:00");
    EXPECT_TRUE(listed(find(web(), "u1"), first)) << "offered on the web at once";
    EXPECT_EQ(engine->slot(first)->end, at("2026-03-07T09:10"));
    EXPECT_TRUE(book(web(), first, patient(1)).ok());
}

// R8: a region-wide or proxy type is added by a region administrator only; a local type by
// its unit's staff (or a region administrator); a proxy type is region-wide and carries all
// three web flags. Each refusal changes nothing and publishes no event.
TEST_F(TypesAdded, R8_OnlyTheRightActorsAddTypesAndARefusalChangesNothing) {
    drain_events();
    const std::uint64_t hash = engine->state_hash();
    const std::uint32_t count = engine->type_count();
    EXPECT_EQ(engine->add_type(staff(), vaccination()).code, ErrorCode::unauthorized)
        << "region-wide: a region administrator";
    NewType local = vaccination("u1-vacc");
    local.unit = unit("u1");
    EXPECT_EQ(engine->add_type(staff("u2"), local).code, ErrorCode::unauthorized)
        << "another unit's staff";
    EXPECT_EQ(engine->add_type(web(), local).code, ErrorCode::unauthorized);
    EXPECT_EQ(engine->add_type(proxy(), vaccination()).code, ErrorCode::unauthorized);
    NewType proxy_local = vaccination("ombud-vacc");
    proxy_local.name = "Ombud vaccination";
    proxy_local.unit = unit("u1");
    EXPECT_EQ(engine->add_type(region_admin(), proxy_local).code, ErrorCode::invalid_request)
        << "R8: a proxy type is region-wide";
    NewType proxy_flags = vaccination("ombud-vacc");
    proxy_flags.name = "Ombud vaccination";
    proxy_flags.settings.web_rebookable = false;
    EXPECT_EQ(engine->add_type(region_admin(), proxy_flags).code, ErrorCode::invalid_request)
        << "R8: a proxy type carries all three web flags";
    NewType same_id = vaccination("all3");
    EXPECT_EQ(engine->add_type(region_admin(), same_id).code, ErrorCode::invalid_request);
    NewType no_length = vaccination();
    no_length.duration_min = 0;
    EXPECT_EQ(engine->add_type(region_admin(), no_length).code, ErrorCode::invalid_request);
    NewType no_name = vaccination();
    no_name.name.clear();
    EXPECT_EQ(engine->add_type(region_admin(), no_name).code, ErrorCode::invalid_request);
    NewType hidden_flags = vaccination();
    hidden_flags.settings.hide_from_patient = true;
    EXPECT_EQ(engine->add_type(region_admin(), hidden_flags).code, ErrorCode::invalid_request)
        << "R6: a hidden type has no web flags";
    EXPECT_EQ(engine->state_hash(), hash);
    EXPECT_EQ(engine->type_count(), count);
    EXPECT_FALSE(engine->catalog().find_type("u1-vacc"));
    EXPECT_EQ(drain_events(), 0u) << "a refusal publishes no event";

    const auto by_staff = engine->add_type(staff(), local);
    ASSERT_TRUE(by_staff.ok()) << by_staff.message;
    EXPECT_FALSE(engine->type_now(by_staff.value).region_wide);
    EXPECT_TRUE(engine->catalog().type_usable_in(by_staff.value, unit("u1")));
    EXPECT_FALSE(engine->catalog().type_usable_in(by_staff.value, unit("u2")));
    Schedule in_u2 = saturdays(by_staff.value);
    in_u2.resource = resource("r3");
    EXPECT_EQ(engine->publish_schedule(staff("u2"), in_u2).code, ErrorCode::invalid_request)
        << "a local type is scheduled in its own unit only";
    proxy_flags.settings.web_rebookable = true;
    EXPECT_TRUE(engine->add_type(region_admin(), proxy_flags).ok());
    EXPECT_TRUE(engine->type_now(type_in(*engine, "ombud-vacc")).is_proxy());
}

// R7: a type added without a web name is never offered on the web or to proxies.
TEST_F(TypesAdded, R7_ATypeAddedWithoutAWebNameIsNotOfferedOnTheWeb) {
    NewType internal = vaccination("intern");
    internal.settings = {};
    const auto added = engine->add_type(region_admin(), internal);
    ASSERT_TRUE(added.ok()) << added.message;
    ASSERT_TRUE(engine->publish_schedule(staff(), saturdays(added.value)).ok());
    const SlotId s = slot_in(*engine, added.value, "2026-03-07T09:00");
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_TRUE(book(staff(), s, patient(1)).ok()) << "staff book every type";
}

// Readers on other threads resolve and read types while types are added: each type they find
// is whole, and a catalog they hold stays valid.
class ManyTypesAdded : public RegionWith<&EngineLimits::types_added_max, 256> {};
TEST_F(ManyTypesAdded, R9_ReadersSeeTypesAddedWhileTheyRead) {
    Actor region_admin = staff();
    region_admin.region_admin = true;
    constexpr int adds = 200;
    std::atomic<bool> done{false};
    std::atomic<int> torn{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r) {
        readers.emplace_back([&] {
            while (!done.load(std::memory_order_acquire)) {
                const Catalog& c = engine->catalog();
                const std::uint32_t n = engine->type_count();
                if (c.types.size() > n) torn.fetch_add(1);
                for (std::uint32_t t = 0; t < c.types.size(); ++t) {
                    const AppointmentType& now = engine->type_now(TypeIdx{t});
                    if (now.id != c.types[t].id || c.find_type(now.id) != TypeIdx{t}) {
                        torn.fetch_add(1);
                    }
                }
            }
        });
    }
    for (int i = 0; i < adds; ++i) {
        ASSERT_TRUE(
            engine->add_type(region_admin, vaccination(std::string("v").append(std::to_string(i))))
                .ok());
        drain_events();
    }
    done.store(true, std::memory_order_release);
    for (std::thread& t : readers) t.join();
    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(engine->catalog().types.size(), engine->type_count());
}

// The room a run has for added types is a clear limit, refused with OVERLOADED and nothing
// changed; a restart makes room again.
class FewTypesAdded : public RegionWith<&EngineLimits::types_added_max, 2> {};
TEST_F(FewTypesAdded, TheRoomForAddedTypesIsAClearLimit) {
    Actor admin = staff();
    admin.region_admin = true;
    NewType n;
    n.name = "Vaccination";
    n.duration_min = 10;
    for (const char* id : {"a", "b"}) {
        n.id = id;
        ASSERT_TRUE(engine->add_type(admin, n).ok());
    }
    const std::uint64_t hash = engine->state_hash();
    n.id = "c";
    const auto refused = engine->add_type(admin, n);
    EXPECT_EQ(refused.code, ErrorCode::overloaded);
    EXPECT_NE(refused.message.find("restart"), std::string::npos) << refused.message;
    EXPECT_EQ(engine->state_hash(), hash);
    EXPECT_FALSE(engine->catalog().find_type("c"));
}

// A type added live keeps its number, settings, slots and bookings across restarts; the same
// region file at the next start changes nothing.
TEST_F(TypesAdded, ATypeAddedLiveSurvivesARestartWithItsSlotsAndBookings) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    const auto added = first->add_type(region_admin(), vaccination());
    ASSERT_TRUE(added.ok()) << added.message;
    ASSERT_TRUE(first->publish_schedule(staff(), saturdays(added.value)).ok());
    const SlotId s = slot_in(*first, added.value, "2026-03-07T09:20");
    const auto booked = book_on(*first, web(), s, patient(7));
    ASSERT_TRUE(booked.ok()) << booked.message;
    TypeChange info;
    info.web_info = "Kom tio minuter innan.";
    ASSERT_TRUE(first->set_type(region_admin(), added.value, info).ok());
    collect(*first);

    std::string why;
    auto again = from_store(rule_region_yaml, &why);
    ASSERT_TRUE(again) << why;
    EXPECT_EQ(again->state_hash(), first->state_hash());
    ASSERT_EQ(again->catalog().find_type("vacc"), added.value) << "the same number";
    const AppointmentType& t = again->type_now(added.value);
    EXPECT_EQ(t.name, "Vaccination");
    EXPECT_EQ(t.duration_min, 10);
    EXPECT_EQ(t.web_info, "Kom tio minuter innan.");
    const auto kept = again->booking(booked.value.id);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->slot.id, s);
    EXPECT_EQ(kept->slot.type, added.value);
    EXPECT_TRUE(again->seed_changes().empty()) << "the file did not change";
    start(*again);
    auto third = from_store(rule_region_yaml);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->state_hash(), first->state_hash());
}

// A region file that adds types after a type was added live numbers them after it, whatever
// their place in the file; a file that gives the live type too (the same definition) keeps
// its number, and its settings change as the file changes them.
TEST_F(TypesAdded, ARegionFileAddingTypesLaterNumbersThemAfterTheLiveOne) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    const auto added = first->add_type(region_admin(), vaccination());
    ASSERT_TRUE(added.ok());
    ASSERT_TRUE(first->publish_schedule(staff(), saturdays(added.value)).ok());
    const SlotId s = slot_in(*first, added.value, "2026-03-14T10:00");
    const auto booked = book_on(*first, staff(), s, patient(8));
    ASSERT_TRUE(booked.ok());
    collect(*first);

    // The file now has a new type first among u1's, with a schedule, and the live type with
    // its definition and another web name.
    std::string yaml = rule_region_yaml;
    insert_before(yaml, "          - {id: all3,",
                  "          - {id: extra, name: Extra tid, duration_min: 30}\n");
    insert_before(yaml, "  - {id: ombud,",
                  "  - {id: vacc, name: Vaccination, duration_min: 10, web_name: Vaccin,\n"
                  "     web_bookable: true, web_cancellable: true, web_rebookable: true}\n");
    insert_before(yaml, "          - {resource: r1, appointment_type: all3,",
                  "          - {resource: r1, appointment_type: extra, weekdays: [sat],\n"
                  "             from: \"09:00\", to: \"12:00\", valid_from: 2026-03-07,\n"
                  "             valid_to: 2026-03-28}\n");
    std::string why;
    auto edited = from_store(yaml, &why);
    ASSERT_TRUE(edited) << why;
    ASSERT_EQ(edited->catalog().find_type("vacc"), added.value) << "the live type's number";
    const TypeIdx extra = type_in(*edited, "extra");
    EXPECT_GT(extra.value, added.value.value) << "a type new to the store comes after it";
    EXPECT_EQ(edited->catalog().find_type("all3"), engine->catalog().find_type("all3"))
        << "the file's other types keep their numbers";
    start(*edited);
    EXPECT_EQ(edited->type_now(added.value).web_name, "Vaccin") << "the file's change (R9)";
    EXPECT_EQ(edited->booking(booked.value.id)->slot.id, s);
    const SlotId extra_slot = slot_in(*edited, extra, "2026-03-07T09:30");
    EXPECT_TRUE(book_on(*edited, staff(), extra_slot, patient(9)).ok());
    collect(*edited);

    auto last = from_store(yaml, &why);
    ASSERT_TRUE(last) << why;
    EXPECT_EQ(last->state_hash(), edited->state_hash());
    EXPECT_TRUE(last->seed_changes().empty());
}

// With --threads N the journal may number a change made right after an addition before the
// addition (each event lane is numbered in turn): recovery still applies the addition first,
// so the change is not undone by it.
TEST_F(TypesAdded, R9_AChangeNumberedBeforeItsTypesAdditionIsKeptAtRecovery) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    const std::size_t before = log.size();
    const auto added = first->add_type(region_admin(), vaccination());
    ASSERT_TRUE(added.ok());
    TypeChange info;
    info.web_info = "Kom tio minuter innan.";
    ASSERT_TRUE(first->set_type(region_admin(), added.value, info).ok());
    collect(*first);
    ASSERT_EQ(log.size(), before + 2);
    ASSERT_EQ(log[before].kind, EventKind::entity_recorded);
    std::swap(log[before], log[before + 1]);  // numbered the other way round
    std::swap(log[before].seq, log[before + 1].seq);
    std::string why;
    auto again = from_store(rule_region_yaml, &why);
    ASSERT_TRUE(again) << why;
    EXPECT_EQ(again->type_now(added.value).web_info, "Kom tio minuter innan.");
    EXPECT_EQ(again->state_hash(), first->state_hash());
}

// A store with no publication at all (a region file without schedules) keeps a type added
// live too.
TEST_F(TypesAdded, ATypeAddedToARegionWithoutSchedulesSurvivesARestart) {
    const std::string bare = R"(
timezone: Europe/Stockholm
appointment_types:
  - {id: samtal, name: Samtal, duration_min: 20}
providers:
  - id: p1
    name: Region Test
    units:
      - id: u1
        name: Vårdcentralen Ett
        resources:
          - {id: r1, type: person, name: Anna Berg}
)";
    auto first = from_store(bare);
    ASSERT_TRUE(first);
    start(*first);
    const auto added = first->add_type(region_admin(), vaccination());
    ASSERT_TRUE(added.ok()) << added.message;
    collect(*first);
    std::string why;
    auto again = from_store(bare, &why);
    ASSERT_TRUE(again) << why;
    ASSERT_EQ(again->catalog().find_type("vacc"), added.value);
    EXPECT_EQ(again->type_now(added.value).duration_min, 10);
    EXPECT_EQ(again->state_hash(), first->state_hash());
    start(*again);
    EXPECT_EQ(log.size(), std::size_t{4}) << "nothing recorded twice (u1, r1, samtal, vacc)";
}

// Checks in ARCHITECTURE.md's order: a field that is wrong (an id the region has) is
// INVALID_REQUEST even for an actor who may not add the type.
TEST_F(TypesAdded, AnIdTakenIsInvalidBeforeTheActorIsChecked) {
    EXPECT_EQ(engine->add_type(staff(), vaccination("all3")).code, ErrorCode::invalid_request);
    EXPECT_EQ(engine->add_type(staff(), vaccination("new")).code, ErrorCode::unauthorized);
}

// The region file's diff at a start compares only types it holds: one added live before it is
// asked is left alone.
TEST_F(TypesAdded, TheRegionFilesDiffLeavesTypesAddedLiveAlone) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    ASSERT_TRUE(first->add_type(region_admin(), vaccination()).ok());
    EXPECT_TRUE(first->seed_changes().empty());
}

// Numbering a region file's types as a store does: a type the file gives another definition
// than the one added live, or another unit, is refused; a reader that only names rows
// (slotmatch-journal with a file older than the store) names every stored type.
TEST_F(TypesAdded, NumberingByTheStoreRefusesContradictionsAndNamesWhatTheFileLacks) {
    const auto file = [] { return *load_region_text(rule_region_yaml, "numbering").catalog; };
    const Catalog loaded = file();
    std::vector<RecordedType> stored;
    for (std::uint32_t t = 0; t < loaded.types.size(); ++t) {
        stored.push_back({t, loaded.types[t].id, std::nullopt});
    }
    AppointmentType vacc;
    vacc.id = "vacc";
    vacc.name = "Vaccination";
    vacc.duration_min = 10;
    vacc.region_wide = false;
    vacc.unit = *loaded.find_unit("u2");
    stored.push_back({static_cast<std::uint32_t>(loaded.types.size()), "vacc", vacc});
    stored.push_back({static_cast<std::uint32_t>(loaded.types.size() + 1), "gone", std::nullopt});

    std::string why;
    Catalog strict = file();
    EXPECT_FALSE(number_types_as_stored(strict, stored, why));
    EXPECT_NE(why.find("gone"), std::string::npos) << why;

    stored.pop_back();
    Catalog ok = file();
    ASSERT_TRUE(number_types_as_stored(ok, stored, why)) << why;
    ASSERT_EQ(ok.find_type("vacc"), TypeIdx{static_cast<std::uint32_t>(loaded.types.size())});
    EXPECT_TRUE(ok.type_usable_in(*ok.find_type("vacc"), *ok.find_unit("u2")));
    EXPECT_FALSE(ok.type_usable_in(*ok.find_type("vacc"), *ok.find_unit("u1")));

    std::string other_unit = rule_region_yaml;  // the file gives vacc to u1
    insert_before(other_unit, "          - {id: all3,",
                  "          - {id: vacc, name: Vaccination, duration_min: 10}\n");
    Catalog moved = *load_region_text(other_unit, "numbering").catalog;
    EXPECT_FALSE(number_types_as_stored(moved, stored, why));
    EXPECT_NE(why.find("local to unit u2"), std::string::npos) << why;

    stored.push_back({static_cast<std::uint32_t>(loaded.types.size() + 1), "gone", std::nullopt});
    Catalog names = file();
    ASSERT_TRUE(number_types_as_stored(names, stored, why, Numbering::names)) << why;
    EXPECT_EQ(names.find_type("gone"),
              TypeIdx{static_cast<std::uint32_t>(loaded.types.size() + 1)});
    EXPECT_EQ(names.find_type("all3"), loaded.find_type("all3"));
}

// A region file that gives a live type another definition, or drops one of its own types the
// store records, is refused with a message that says what to do.
TEST_F(TypesAdded, ARegionFileContradictingTheStoredTypesIsRefused) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    ASSERT_TRUE(first->add_type(region_admin(), vaccination()).ok());
    collect(*first);

    std::string longer = rule_region_yaml;
    insert_before(longer, "  - {id: ombud,",
                  "  - {id: vacc, name: Vaccination, duration_min: 20}\n");
    std::string why;
    EXPECT_FALSE(from_store(longer, &why));
    EXPECT_NE(why.find("was added live as \"Vaccination\", 10 min"), std::string::npos) << why;

    std::string dropped = rule_region_yaml;
    const std::string noweb = "          - {id: noweb, name: Intern tid, duration_min: 30}\n";
    dropped.erase(dropped.find(noweb), noweb.size());
    const std::string its_schedule =
        "          - {resource: r2, appointment_type: noweb, weekdays: [mon, tue, wed, thu, fri],\n"
        "             from: \"10:00\", to: \"11:00\", valid_from: 2026-01-01, valid_to: "
        "2026-12-31}\n";
    ASSERT_NE(dropped.find(its_schedule), std::string::npos);
    dropped.erase(dropped.find(its_schedule), its_schedule.size());
    EXPECT_FALSE(from_store(dropped, &why));
    EXPECT_NE(why.find("noweb"), std::string::npos) << why;
    EXPECT_NE(why.find("admin type remove"), std::string::npos) << why;
}

}  // namespace
}  // namespace slotmatch::testing
