// Live settings (issue 11): R1, R6, R8, R9, R24 and R25 as staff and region administrators
// change appointment types and units while the engine serves, and what the region file
// changes at a start, on top of what staff changed live.
#include <atomic>
#include <thread>

#include "engine_fixture.hpp"
#include "store_history.hpp"

namespace slotmatch::testing {
namespace {

class Settings : public StoreHistory {
  protected:
    Actor region_admin() const {
        Actor a = staff();
        a.region_admin = true;
        return a;
    }
    TypeChange bookable(bool on) const {
        TypeChange c;
        c.web_bookable = on;
        return c;
    }
};

// R1: a type has an internal name (what staff see), a web name and a web information text
// (what citizens see); staff give it the web texts, the internal name stays.
TEST_F(Settings, R1_ATypeHasAnInternalNameAWebNameAndAWebInfo) {
    TypeChange texts;
    texts.web_name = "Bedömning av nya besvär, vuxen";
    texts.web_info = "Glöm ej ta med utskickat formulär till besöket";
    const auto changed = engine->set_type(staff(), type("all3"), texts);
    ASSERT_TRUE(changed.ok()) << changed.message;
    const Catalog now = engine->catalog_now();
    const AppointmentType& t = now.type(type("all3"));
    EXPECT_EQ(t.name, "Nybesök");  // internal: unchanged
    EXPECT_EQ(t.web_name, "Bedömning av nya besvär, vuxen");
    EXPECT_EQ(t.web_info, "Glöm ej ta med utskickat formulär till besöket");
    EXPECT_EQ(engine->catalog().type(type("all3")).web_name, "Bedömning av nya besvär")
        << "the catalog as loaded is kept; catalog_now() is what holds now";
}

// R9: a settings change is in force for the next request, for everyone.
TEST_F(Settings, R9_ATypeMadeUnbookableIsRefusedOnTheNextRequest) {
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    ASSERT_TRUE(listed(find(web(), "u1"), s));
    ASSERT_TRUE(engine->set_type(staff(), type("all3"), bookable(false)).ok());
    EXPECT_FALSE(listed(find(web(), "u1"), s)) << "still offered on the web";
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_TRUE(book(staff(), s, patient(2)).ok()) << "staff book every type";
    ASSERT_TRUE(engine->set_type(staff(), type("all3"), bookable(true)).ok());
    EXPECT_TRUE(book(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(3)).ok());
}

// R9: "no mixed state visible": readers on other threads see a type's settings before a change
// or after it, whole, while the change is made over and over.
TEST_F(Settings, R9_ReadersSeeOneWholeSettingsOrTheOther) {
    TypeChange on, off;
    on.web_name = "Bedömning";
    on.web_bookable = true;
    off.web_name = "";
    off.web_bookable = false;
    std::atomic<bool> done{false};
    std::atomic<int> mixed{0};
    std::vector<std::thread> readers;
    const TypeIdx all3 = type("all3");
    for (int r = 0; r < 3; ++r) {
        readers.emplace_back([&] {
            while (!done.load(std::memory_order_relaxed)) {
                const AppointmentType& t = engine->type_now(all3);
                if (t.web_name.empty() == t.web_bookable) mixed.fetch_add(1);
                std::this_thread::yield();  // two cores: leave the writer its turns
            }
        });
    }
    std::vector<Event> drained(64);  // the journal's part, one buffer for the whole run
    for (int i = 0; i < 1000; ++i) {
        EXPECT_TRUE(engine->set_type(staff(), all3, i % 2 ? on : off).ok());  // no ASSERT: the
        engine->events().drain(drained);  // readers must be stopped and joined below
    }
    done.store(true);
    for (auto& t : readers) t.join();
    EXPECT_EQ(mixed.load(), 0);
}

// R6: hiding a type from patients clears its three flags; a flag is not set while it is hidden.
TEST_F(Settings, R6_HidingATypeClearsItsFlags) {
    TypeChange hide;
    hide.hide_from_patient = true;
    const auto hidden = engine->set_type(staff(), type("all3"), hide);
    ASSERT_TRUE(hidden.ok());
    EXPECT_FALSE(hidden.value.web_bookable || hidden.value.web_cancellable ||
                 hidden.value.web_rebookable);
    EXPECT_EQ(engine->set_type(staff(), type("all3"), bookable(true)).code,
              ErrorCode::invalid_request);
}

// R8: region-wide and proxy types are changed only by a region administrator, and a proxy
// type keeps all three web flags.
TEST_F(Settings, R8_RegionWideAndProxyTypesNeedARegionAdministrator) {
    EXPECT_EQ(engine->set_type(staff(), type("ombud"), bookable(true)).code,
              ErrorCode::unauthorized);
    EXPECT_EQ(engine->set_type(region_admin(), type("ombud"), bookable(false)).code,
              ErrorCode::invalid_request)
        << "R8: a proxy type keeps all three flags";
    TypeChange info;
    info.web_info = "Ha din legitimation redo.";
    EXPECT_TRUE(engine->set_type(region_admin(), type("ombud"), info).ok());
    EXPECT_EQ(engine->set_type(staff("u2"), type("all3"), info).code, ErrorCode::unauthorized)
        << "another unit's type";
    EXPECT_EQ(engine->set_type(web(), type("all3"), info).code, ErrorCode::unauthorized);
}

// R24, R25: turning web booking on for a unit: the case type "Boka tid" on, its terms written;
// then the web finds and books its slots.
TEST_F(Settings, R24_TurningWebBookingOnForAUnit) {
    EXPECT_TRUE(find(web(), "u3").value.empty()) << "R25: Boka tid off, nothing on the web";
    UnitChange on;
    on.booking_active = true;
    on.terms_book = "Avboka senast 24 timmar innan, annars debiteras besöket.";
    EXPECT_EQ(engine->set_unit(staff("u1"), unit("u3"), on).code, ErrorCode::unauthorized);
    ASSERT_TRUE(engine->set_unit(staff("u3"), unit("u3"), on).ok());
    const auto found = find(web(), "u3");
    ASSERT_TRUE(found.ok());
    ASSERT_FALSE(found.value.empty());
    EXPECT_TRUE(book(web(), found.value.front().id, patient(4)).ok());
    EXPECT_EQ(engine->catalog_now().unit(unit("u3")).web.terms_book,
              "Avboka senast 24 timmar innan, annars debiteras besöket.");
}

// R14 by a region administrator: a type taken out of the region is offered and scheduled
// nowhere, and its free slots go at once.
TEST_F(Settings, ATypeTakenOutOfTheRegionIsOfferedNowhere) {
    EXPECT_EQ(engine->remove_type_everywhere(staff(), type("ombud")).code, ErrorCode::unauthorized);
    const auto removed = engine->remove_type_everywhere(region_admin(), type("ombud"));
    ASSERT_TRUE(removed.ok()) << removed.message;
    EXPECT_GT(removed.value.slots_changed, 0u);
    SlotQuery q;
    q.unit = unit("u2");
    q.type = type("ombud");
    q.limit = 10;
    EXPECT_EQ(engine->find(proxy(), q).code, ErrorCode::invalid_request);
    EXPECT_TRUE(engine->type_now(type("ombud")).removed);
}

// The same with room for two events per lane: taking the type out of three units and the
// region needs four, so it is refused whole (OVERLOADED) and nothing changes, rather than
// leaving it out of some units' schedules only.
class TinyEventLanes : public RegionWith<&EngineLimits::events_max, 2> {};

TEST_F(TinyEventLanes, R14_ATypeTakenOutOfTheRegionGoesWholeOrNotAtAll) {
    Actor admin = staff();
    admin.region_admin = true;
    const std::uint64_t hash = engine->state_hash();
    EXPECT_EQ(engine->remove_type_everywhere(admin, type("ombud")).code, ErrorCode::overloaded);
    EXPECT_EQ(engine->state_hash(), hash);
    EXPECT_FALSE(engine->type_now(type("ombud")).removed);
    EXPECT_EQ(drain_events(), 0U) << "nothing was published";
}

// Settings survive a restart; the region file's changes at a later start take only the fields
// the file changed, on top of what staff changed live.
TEST_F(Settings, LiveChangesSurviveARestartAndTheRegionFileChangesOnlyWhatItChanged) {
    auto first = from_store(rule_region_yaml);
    ASSERT_TRUE(first);
    start(*first);
    TypeChange live;
    live.web_name = "Nybesök (live)";
    ASSERT_TRUE(first->set_type(staff(), type("all3"), live).ok());
    UnitChange terms;
    terms.terms_book = "Ring oss.";
    ASSERT_TRUE(first->set_unit(staff(), unit("u1"), terms).ok());
    collect(*first);
    auto again = from_store(rule_region_yaml);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->state_hash(), first->state_hash());
    EXPECT_EQ(again->type_now(type("all3")).web_name, "Nybesök (live)");
    EXPECT_TRUE(again->seed_changes().empty()) << "the file did not change: nothing to undo";

    std::string yaml = rule_region_yaml;  // the file now gives all3 a web_info
    const std::string was = "- {id: all3, name: Nybesök, web_name: Bedömning av nya besvär,";
    yaml.replace(yaml.find(was), was.size(), was + " web_info: Ta med formuläret,");
    auto edited = from_store(yaml);
    ASSERT_TRUE(edited);
    const auto changes = edited->seed_changes();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].kind, SeedChange::Kind::settings);
    start(*edited);
    EXPECT_EQ(edited->type_now(type("all3")).web_info, "Ta med formuläret");
    EXPECT_EQ(edited->type_now(type("all3")).web_name, "Nybesök (live)") << "the live change stays";
    auto last = from_store(yaml);
    ASSERT_TRUE(last);
    EXPECT_EQ(last->state_hash(), edited->state_hash());
    EXPECT_TRUE(last->seed_changes().empty());
}

}  // namespace
}  // namespace slotmatch::testing
