// Administration over the wire and the CLI (issue 11; ARCHITECTURE.md, "Administration"): the
// unit's staff publish, extend and end schedules and add, retype and remove slots on a real
// slotmatchd with a store. Each change is visible at once (R13, R14), refused with the
// contract's codes when it may not be made, and kept across a restart and a kill -9 with every
// slot id it gave.
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include "e2e/rule_server.hpp"

namespace slotmatch::testing {
namespace {

using nlohmann::json;

const Args saturday_schedule = {
    "admin",  "schedule",     "publish",    "--unit",     "u1",        "--resource", "r2",
    "--type", "all3",         "--weekdays", "sat",        "--from",    "09:00",      "--to",
    "11:00",  "--valid-from", "2026-03-07", "--valid-to", "2026-04-25"};

class Admin : public RuleServer {
  protected:
    std::string refused(const Args& args) const {
        const json j = expect_refusal(cli(args));
        return j.contains("error") ? j["error"]["code"].get<std::string>() : "";
    }
    // Every slot of r2 / all3 on Saturdays of March and April as staff find them: id -> start.
    std::map<std::uint32_t, std::string> saturday_slots() const {
        const json j =
            ok(concat({as_staff,
                       {"find", "--unit", "u1", "--resource", "r2", "--type", "all3", "--from",
                        "2026-03-07", "--to", "2026-04-30", "--limit", "1000"}}));
        std::map<std::uint32_t, std::string> out;
        for (const json& s : j.value("slots", json::array())) {
            const std::string start = s["start"].get<std::string>();
            if (start.find("T09:") != std::string::npos ||
                start.find("T10:") != std::string::npos) {
                out.emplace(s["slot_id"].get<std::uint32_t>(), start);
            }
        }
        return out;
    }
};

// R13: the slots of a schedule published live are on the web with the next request.
TEST_F(Admin, R13_APublishedScheduleIsOnTheWebAtOnce) {
    const json published = ok(concat({as_staff, saturday_schedule}));
    EXPECT_EQ(keys(published), (std::set<std::string>{"ok", "schedule_id", "slots_published"}));
    EXPECT_EQ(published["slots_published"], 8 * 6);  // eight Saturdays, six slots each
    const json found = ok(concat({as_web,
                                  {"find", "--unit", "u1", "--type", "all3", "--from", "2026-03-07",
                                   "--to", "2026-03-07", "--limit", "20"}}));
    ASSERT_FALSE(found["slots"].empty()) << "the new Saturday is not on the web";
    EXPECT_EQ(found["slots"][0]["start"], "2026-03-07T09:00:00+01:00");
    const json extended =
        ok(concat({as_staff,
                   {"admin", "schedule", "extend", "--schedule", published["schedule_id"].dump(),
                    "--valid-to", "2026-05-30"}}));
    EXPECT_EQ(extended["slots_published"], 5 * 6);
}

// R10 at scheduling: --window-days gives the schedule's slots their own day count. On Monday
// 2 March a count of 3 keeps Saturday 7 March off the web, while staff see it; a count out of
// range is refused naming the field.
TEST_F(Admin, R10_AScheduleDayCountKeepsItsSlotsOffTheWebUntilTheirTime) {
    const json bad =
        expect_refusal(cli(concat({as_staff, saturday_schedule, {"--window-days", "400"}})));
    EXPECT_EQ(bad["error"]["field"], "window_days");
    ok(concat({as_staff, saturday_schedule, {"--window-days", "3"}}));
    const Args saturday = {"find",       "--unit",  "u1",     "--resource", "r2",
                           "--type",     "all3",    "--from", "2026-03-07", "--to",
                           "2026-03-07", "--limit", "20"};
    EXPECT_TRUE(ok(concat({as_web, saturday}))["slots"].empty());
    EXPECT_EQ(ok(concat({as_staff, saturday}))["slots"].size(), 6U);
    ok(concat({as_staff, {"admin", "clock", "--set", "2026-03-05T00:00:00+01:00"}}));
    EXPECT_EQ(ok(concat({as_web, saturday}))["slots"].size(), 6U);
}

// R14: a booked slot's removal is refused, and so is ending its schedule before it; the refusal
// names the booking and changes nothing. Free slots go at once.
TEST_F(Admin, R14_ABookedSlotsRemovalIsRefused) {
    const json published = ok(concat({as_staff, saturday_schedule}));
    const std::string schedule = published["schedule_id"].dump();
    const auto slots = saturday_slots();
    ASSERT_EQ(slots.size(), 48u);
    const std::uint32_t booked = std::prev(slots.end())->first;  // the last Saturday
    const json booking =
        ok(concat({as_staff, {"book", "--slot", std::to_string(booked), "--patient", pnr(1)}}));
    const std::string id = booking["booking"]["booking_id"].dump();

    EXPECT_EQ(
        refused(concat({as_staff, {"admin", "slot", "remove", "--slot", std::to_string(booked)}})),
        "SLOT_ALREADY_RESERVED");
    const json end = expect_refusal(cli(concat(
        {as_staff, {"admin", "schedule", "end", "--schedule", schedule, "--on", "2026-04-04"}})));
    EXPECT_EQ(end["error"]["code"], "SLOT_ALREADY_RESERVED");
    EXPECT_NE(end["error"]["message"].get<std::string>().find("bookings: " + id), std::string::npos)
        << end;
    EXPECT_EQ(saturday_slots().size(), 47u) << "the refusals changed nothing";

    const std::uint32_t free_slot = slots.begin()->first;
    const json removed =
        ok(concat({as_staff, {"admin", "slot", "remove", "--slot", std::to_string(free_slot)}}));
    EXPECT_EQ(removed["slot"]["state"], "blocked");
    EXPECT_EQ(saturday_slots().count(free_slot), 0u);
    const json added = ok(concat({as_staff,
                                  {"admin", "slot", "add", "--resource", "r2", "--type", "all3",
                                   "--start", "2026-03-08T09:00"}}));
    EXPECT_EQ(added["slot"]["state"], "free");
}

TEST_F(Admin, OnlyTheUnitsStaffAdministerAndBadFieldsAreNamed) {
    EXPECT_EQ(refused(concat({as_web, saturday_schedule})), "UNAUTHORIZED");
    Args other_unit = as_staff;
    other_unit.back() = "u2";
    EXPECT_EQ(refused(concat({other_unit, saturday_schedule})), "UNAUTHORIZED");
    Args bad_days = saturday_schedule;
    bad_days[std::find(bad_days.begin(), bad_days.end(), "sat") - bad_days.begin()] = "lördag";
    const json j = expect_refusal(cli(concat({as_staff, bad_days})));
    EXPECT_EQ(j["error"]["code"], "INVALID_REQUEST");
    EXPECT_EQ(j["error"]["field"], "weekdays");
    EXPECT_EQ(
        refused(concat(
            {as_staff, {"admin", "schedule", "end", "--schedule", "999", "--on", "2026-04-04"}})),
        "INVALID_REQUEST");
    EXPECT_EQ(cli(concat({as_staff, {"admin", "schedule", "publish", "--unit", "u1"}})).exit_code,
              2)
        << "a usage error";
    EXPECT_TRUE(saturday_slots().empty()) << "nothing was published";
}

// Recovery after kill -9 in the middle of administration: slots added one per request and a
// type's web info set every tenth, pipelined, the server killed after some replies; restarted
// on the store, every acknowledged slot is there under the id it was given, every slot has the
// facts it had, the type's info is the last acknowledged one or a later one, and the state
// recovered is the state a clean stop then leaves (the same hash after a further restart).
TEST_F(Admin, AKillNineInTheMiddleOfAdministrationLosesNoAcknowledgedChange) {
    ok(concat({as_staff, saturday_schedule}));
    const auto before = saturday_slots();
    client::Connection connection(server_->endpoint());
    const client::Identity staff{Channel::staff, "vgr-abc123", "Karin Lind", "u1", "admin-test"};
    constexpr int adds = 2000;
    constexpr int per_sunday = 24;  // 08:00 to 16:00, 20 minutes each
    const LocalDay first_sunday = *Calendar::parse_day("2026-03-08");
    for (int n = 0; n < adds; ++n) {
        client::RequestBuilder r;
        r.start();
        auto& b = r.fbb();
        const LocalDay sunday = first_sunday + 7 * (n / per_sunday);
        char time[8];
        std::snprintf(time, sizeof time, "T%02d:%02d", 8 + (n % per_sunday) / 3, (n % 3) * 20);
        r.add(wire::CreateAddSlot(b, b.CreateString("r2"), b.CreateString("all3"),
                                  b.CreateString(Calendar::format_day(sunday) + time)));
        if (n % 10 == 0) {  // R9: a settings change in the same stream
            r.add(wire::CreateSetTypeDirect(b, "norecancel", nullptr,
                                            ("info " + std::to_string(n)).c_str()));
        }
        ASSERT_TRUE(connection.send(r.finish(staff, 7000 + n), 5000));
    }
    std::map<std::uint32_t, std::int64_t> acknowledged;  // slot id -> start
    int info_acknowledged = -1;                          // the last info whose set was answered
    const auto take = [&](const client::Reply& reply) {
        const auto* slot = reply.message->results()->Get(0)->body_as_SlotReply();
        ASSERT_TRUE(slot) << "an add was refused";
        acknowledged.emplace(slot->slot()->slot_id(), slot->slot()->start());
        if (reply.message->results()->size() == 2) {
            const auto* set = reply.message->results()->Get(1)->body_as_TypeReply();
            ASSERT_TRUE(set) << "a type change was refused";
            const std::string info = set->appointment_type()->web_info()->str();
            info_acknowledged = std::max(info_acknowledged, std::stoi(info.substr(5)));
        }
    };
    for (int n = 0; n < 20; ++n) {
        auto reply = connection.receive(5000);
        ASSERT_TRUE(reply && reply->message->results());
        take(*reply);
    }
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();
    while (auto reply = connection.receive(100)) take(*reply);
    ASSERT_LT(acknowledged.size(), static_cast<std::size_t>(adds)) << "not killed mid-way";

    ASSERT_NO_FATAL_FAILURE(start());
    const auto saturdays = saturday_slots();  // and the Sundays' morning slots added since
    for (const auto& [id, start] : before) {
        const auto it = saturdays.find(id);
        ASSERT_NE(it, saturdays.end()) << "slot " << id << " of the schedule lost";
        EXPECT_EQ(it->second, start) << "the schedule's slots keep their ids";
    }
    // Every free slot of r2 / all3 on the Sundays the adds reached, month by month.
    std::map<std::uint32_t, std::int64_t> found;
    client::Connection after(server_->endpoint());
    for (LocalDay from = first_sunday; from <= first_sunday + 7 * (adds / per_sunday); from += 28) {
        client::RequestBuilder r;
        r.start();
        auto& b = r.fbb();
        r.add(wire::CreateFind(b, b.CreateString("u1"), b.CreateString("all3"),
                               b.CreateString("r2"), b.CreateString(Calendar::format_day(from)),
                               b.CreateString(Calendar::format_day(from + 27)), 1000));
        const std::uint64_t id = client::new_request_id();
        auto reply = after.call(r.finish(staff, id), id, 5000);
        ASSERT_TRUE(reply && reply->message->results());
        const auto* list = reply->message->results()->Get(0)->body_as_SlotList();
        ASSERT_TRUE(list);
        for (const wire::Slot* s : *list->slots()) found.emplace(s->slot_id(), s->start());
    }
    for (const auto& [id, start] : acknowledged) {
        const auto it = found.find(id);
        ASSERT_NE(it, found.end()) << "acknowledged slot " << id << " lost";
        EXPECT_EQ(it->second, start) << "slot " << id << " moved";
    }
    ASSERT_GE(info_acknowledged, 0) << "some type change was answered before the kill";
    int info_now = -1;
    const json catalog = ok(concat({as_staff, {"catalog", "--unit", "u1"}}));
    for (const json& t : catalog["appointment_types"]) {
        if (t["id"] == "norecancel")
            info_now = std::stoi(t["web_info"].get<std::string>().substr(5));
    }
    EXPECT_GE(info_now, info_acknowledged) << "an acknowledged settings change lost" << catalog;

    // The recovered state is whole: a clean stop and another start give the same hash.
    const auto hash_in = [](const std::string& output, const std::string& after) {
        const auto at = output.find(after);
        return at == std::string::npos ? std::string() : output.substr(at + after.size(), 16);
    };
    const std::string recovered = hash_in(server_->output(), "state hash ");
    ASSERT_FALSE(recovered.empty()) << server_->output();
    ASSERT_EQ(server_->stop(), 0);
    ASSERT_NO_FATAL_FAILURE(start());
    EXPECT_EQ(hash_in(server_->output(), "state hash "), recovered) << server_->output();
}

// R9 over the wire: a type made unbookable is off the web for the next request, and back.
TEST_F(Admin, R9_ASettingsChangeIsInForceForTheNextRequest) {
    const Args web_find = concat(
        {as_web,
         {"find", "--unit", "u1", "--type", "all3", "--from", "2026-03-03", "--limit", "1"}});
    ASSERT_FALSE(ok(web_find)["slots"].empty());
    const json off = ok(
        concat({as_staff, {"admin", "type", "set", "--type", "all3", "--web-bookable", "false"}}));
    EXPECT_EQ(off["appointment_type"]["web_bookable"], false);
    EXPECT_TRUE(ok(web_find)["slots"].empty()) << "still offered on the web";
    ok(concat({as_staff,
               {"admin", "type", "set", "--type", "all3", "--web-bookable", "true", "--web-info",
                "Ta med formuläret"}}));
    EXPECT_FALSE(ok(web_find)["slots"].empty());
    const json catalog = ok(concat({as_staff, {"catalog", "--unit", "u1"}}));
    bool seen = false;
    for (const json& t : catalog["appointment_types"]) {
        if (t["id"] == "all3") seen = t["web_info"] == "Ta med formuläret";
    }
    EXPECT_TRUE(seen) << "the catalog shows the settings as they are now";
}

// R8: region-wide and proxy types are changed by a region-admin only (a role of the request
// until keys carry it).
TEST_F(Admin, R8_RegionWideTypesNeedTheRegionAdminRole) {
    const Args change = {"admin", "type", "set", "--type", "ombud", "--web-info", "Legitimation"};
    EXPECT_EQ(refused(concat({as_staff, change})), "UNAUTHORIZED");
    const json done = ok(concat({as_staff, {"--role", "region-admin"}, change}));
    EXPECT_EQ(done["appointment_type"]["web_info"], "Legitimation");
    // The actor is refused before anything runs.
    const CliRun unknown = cli(concat({as_staff, {"--role", "superuser"}, change}));
    EXPECT_EQ(unknown.exit_code, 1) << unknown;
    EXPECT_NE(unknown.out.find("the one role is region-admin"), std::string::npos) << unknown;
}

// R1-R4, R8, R9: an appointment type added over the wire is in the catalog, scheduled and
// booked on the web at once; only a region-admin adds a region-wide one, a unit's staff a local
// one; after kill -9 the type, its slots and the booking are back under the same ids.
TEST_F(Admin, R9_ATypeAddedOverTheWireIsBookedAtOnceAndSurvivesAKillNine) {
    const Args add = {"admin",
                      "type",
                      "add",
                      "--type",
                      "vacc",
                      "--name",
                      "Vaccination",
                      "--duration",
                      "10",
                      "--web-name",
                      "Vaccin mot influensa",
                      "--web-bookable",
                      "true",
                      "--web-cancellable",
                      "true",
                      "--web-rebookable",
                      "true"};
    EXPECT_EQ(refused(concat({as_staff, add})), "UNAUTHORIZED") << "region-wide: a region-admin";
    const Args admin = concat(
        {as_staff, {"--role", "region-admin", "--client", "admin-test", "--request-id", "4242"}});
    const json added = ok(concat({admin, add}));
    EXPECT_EQ(added["appointment_type"]["id"], "vacc");
    EXPECT_EQ(added["appointment_type"]["name"], "Vaccination");
    EXPECT_EQ(added["appointment_type"]["duration_min"], 10);
    EXPECT_EQ(ok(concat({admin, add})), added) << "a retry gets the first answer";
    // Answered once durable: a kill -9 right after the answer keeps the type.
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();
    ASSERT_NO_FATAL_FAILURE(start());
    const json after_kill = ok(concat({as_staff, {"catalog"}}));
    bool kept = false;
    for (const json& t : after_kill["appointment_types"]) kept = kept || t["id"] == "vacc";
    EXPECT_TRUE(kept) << after_kill;
    EXPECT_EQ(refused(concat({as_staff, {"--role", "region-admin"}, add})), "INVALID_REQUEST")
        << "the id is taken now";
    const json local = ok(concat({as_staff,
                                  {"admin", "type", "add", "--type", "u1-samtal", "--name",
                                   "Samtal", "--duration", "30", "--unit", "u1"}}));
    EXPECT_EQ(local["appointment_type"]["web_name"], "");
    EXPECT_EQ(refused(concat({as_staff,
                              {"admin", "type", "add", "--type", "ombud-x", "--name",
                               "Ombud vaccination", "--duration", "10", "--unit", "u1"}})),
              "INVALID_REQUEST")
        << "R8: a proxy type is region-wide";

    Args schedule = saturday_schedule;
    const auto type_arg = std::find(schedule.begin(), schedule.end(), "--type");
    ASSERT_NE(type_arg, schedule.end());
    *std::next(type_arg) = "vacc";
    const json published = ok(concat({as_staff, schedule}));
    EXPECT_EQ(published["slots_published"], 8 * 12);  // eight Saturdays, twelve 10-minute slots
    const json found = ok(concat({as_web,
                                  {"find", "--unit", "u1", "--type", "vacc", "--from", "2026-03-07",
                                   "--to", "2026-03-07", "--limit", "20"}}));
    ASSERT_EQ(found["slots"].size(), 12u) << found;
    const json first = found["slots"][0];
    EXPECT_EQ(first["appointment_type"], "vacc");
    EXPECT_EQ(first["end"], "2026-03-07T09:10:00+01:00");
    const std::string slot = first["slot_id"].dump();
    const json booked = ok(concat({as_web, {"book", "--slot", slot, "--patient", pnr(3)}}));
    const std::string booking = booked["booking"]["booking_id"].dump();

    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();
    ASSERT_NO_FATAL_FAILURE(start());
    const json catalog = ok(concat({as_staff, {"catalog"}}));
    std::map<std::string, json> types;
    for (const json& t : catalog["appointment_types"]) types[t["id"].get<std::string>()] = t;
    ASSERT_EQ(types.count("vacc"), 1U) << catalog;
    EXPECT_EQ(types["vacc"]["name"], "Vaccination");
    EXPECT_EQ(types["vacc"]["duration_min"], 10);
    EXPECT_EQ(types["vacc"]["web_name"], "Vaccin mot influensa");
    ASSERT_EQ(types.count("u1-samtal"), 1U) << catalog;
    const json mine = ok(concat({as_web, {"bookings", "--patient", pnr(3)}}));
    ASSERT_EQ(mine["bookings"].size(), 1u) << mine;
    EXPECT_EQ(mine["bookings"][0]["booking_id"].dump(), booking);
    EXPECT_EQ(mine["bookings"][0]["slot_id"].dump(), slot);
    EXPECT_EQ(mine["bookings"][0]["appointment_type"], "vacc");
    const json again = ok(concat({as_web,
                                  {"find", "--unit", "u1", "--type", "vacc", "--from", "2026-03-07",
                                   "--to", "2026-03-07", "--limit", "20"}}));
    EXPECT_EQ(again["slots"].size(), 11u) << "the booked one is taken, the rest offered";

    // The region file now adds a type first of all: it is recorded (and said so) after the live
    // ones, which keep their numbers, bookings and slots.
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    std::string yaml = rule_region_yaml;
    const std::string wide = "appointment_types:\n  - {id: ombud,";
    yaml.replace(yaml.find(wide), wide.size(),
                 "appointment_types:\n  - {id: tbe, name: TBE-vaccination, duration_min: 15}\n"
                 "  - {id: ombud,");
    config_ = write_temp_file("rule-region.yaml", yaml);
    ASSERT_NO_FATAL_FAILURE(start());
    EXPECT_NE(
        server_->output().find("region file: recorded appointment type tbe (new to the store)"),
        std::string::npos)
        << server_->output();
    const json renamed = ok(concat({as_staff, {"catalog"}}));
    std::map<std::string, std::size_t> number;
    for (std::size_t i = 0; i < renamed["appointment_types"].size(); ++i) {
        number[renamed["appointment_types"][i]["id"].get<std::string>()] = i;
    }
    ASSERT_EQ(number.count("tbe"), 1U) << renamed;
    EXPECT_GT(number["tbe"], number["vacc"]) << "numbered after the live types";
    EXPECT_GT(number["tbe"], number["u1-samtal"]);
    const json still = ok(concat({as_web, {"bookings", "--patient", pnr(3)}}));
    ASSERT_EQ(still["bookings"].size(), 1u) << still;
    EXPECT_EQ(still["bookings"][0]["slot_id"].dump(), slot);
    EXPECT_EQ(still["bookings"][0]["appointment_type"], "vacc");
}

// R24, R25: a unit's staff turn web booking on, with its terms; the web then books there.
TEST_F(Admin, R24_AUnitsStaffTurnWebBookingOn) {
    Args u3 = as_staff;
    u3.back() = "u3";
    const Args web_find = concat({as_web, {"find", "--unit", "u3", "--limit", "1"}});
    EXPECT_TRUE(ok(web_find)["slots"].empty()) << "Boka tid is off in u3";
    EXPECT_EQ(
        refused(concat(
            {as_staff, {"admin", "unit", "set", "--unit", "u3", "--case-type", "boka-tid=true"}})),
        "UNAUTHORIZED");
    const json on = ok(concat({u3,
                               {"admin", "unit", "set", "--unit", "u3", "--case-type",
                                "boka-tid=true", "--terms", "Avboka senast 24 timmar innan."}}));
    EXPECT_EQ(on["unit"]["web"]["booking_active"], true);
    EXPECT_EQ(on["unit"]["web"]["terms_book"], "Avboka senast 24 timmar innan.");
    EXPECT_FALSE(ok(web_find)["slots"].empty());
    EXPECT_EQ(cli(concat({u3, {"admin", "unit", "set", "--unit", "u3", "--case-type", "boka=yes"}}))
                  .exit_code,
              2);
}

// R9 and R8 across a restart from the store: the settings changed live are back, and every type
// is whole (its id, internal name, duration; a proxy type still a proxy type, so proxies are
// offered it and nothing else). A settings record in the store carries the settings only.
TEST_F(Admin, R9_SettingsChangedLiveComeBackOnWholeTypesAfterARestart) {
    ok(concat(
        {as_staff, {"admin", "type", "set", "--type", "all3", "--web-info", "Ta med listan"}}));
    ASSERT_EQ(server_->stop(), 0);
    ASSERT_NO_FATAL_FAILURE(start());
    const json catalog = ok(concat({as_staff, {"catalog", "--unit", "u1"}}));
    std::map<std::string, json> types;
    for (const json& t : catalog["appointment_types"]) types[t["id"].get<std::string>()] = t;
    ASSERT_EQ(types.count("all3"), 1U) << catalog;
    EXPECT_EQ(types["all3"]["web_info"], "Ta med listan");
    EXPECT_EQ(types["all3"]["name"], "Nybesök");
    EXPECT_EQ(types["all3"]["duration_min"], 20);
    ASSERT_EQ(types.count("ombud"), 1U) << catalog;
    EXPECT_EQ(types["ombud"]["proxy"], true);
    const json offered = ok(
        concat({as_proxy, {"find", "--unit", "u1", "--from", "2026-03-10", "--to", "2026-03-10"}}));
    ASSERT_FALSE(offered["slots"].empty());
    for (const json& s : offered["slots"]) EXPECT_EQ(s["appointment_type"], "ombud");
}

// R7: the web's catalog has no internal names, and of a type not presented on the web nothing
// but its id; a proxy type shows on the web (a citizen sees what a proxy booked, R8) but is not
// bookable there; a proxy sees its own types only; staff see everything.
TEST_F(Admin, R7_TheWebsCatalogShowsOnlyWebNamesOfTypesOnTheWeb) {
    const json web = ok(concat({as_web, {"catalog"}}));
    const json proxy = ok(concat({as_proxy, {"catalog"}}));
    const json staff = ok(concat({as_staff, {"catalog"}}));
    std::size_t web_named = 0;
    for (const json& t : web["appointment_types"]) {
        EXPECT_EQ(t["name"], "") << t;
        if (t["id"] == "hidden" || t["id"] == "noweb") {
            EXPECT_EQ(t["web_name"], "") << t;
            EXPECT_EQ(t["web_bookable"], false) << t;
        }
        if (t["id"] == "ombud") {
            EXPECT_EQ(t["web_name"], "Bedömning via 1177") << t;
            EXPECT_EQ(t["web_bookable"], false) << "R8: not offered to citizens: " << t;
            EXPECT_EQ(t["web_cancellable"], true) << t;
        }
        if (t["web_name"] != "") ++web_named;
    }
    EXPECT_GT(web_named, 0U) << "the web sees the web names of its types";
    bool ombud_named = false;
    for (const json& t : proxy["appointment_types"]) {
        EXPECT_EQ(t["name"], "") << t;
        if (t["id"] == "ombud") ombud_named = t["web_name"] == "Bedömning via 1177";
        if (t["id"] == "all3") {
            EXPECT_EQ(t["web_name"], "") << "a proxy sees only proxy types: " << t;
        }
    }
    EXPECT_TRUE(ombud_named) << proxy;
    bool hidden_named = false;
    for (const json& t : staff["appointment_types"]) {
        if (t["id"] == "hidden") hidden_named = t["name"] == "Samtal kurator";
    }
    EXPECT_TRUE(hidden_named) << "staff see the internal names";
}

}  // namespace
}  // namespace slotmatch::testing
