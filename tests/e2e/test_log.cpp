// The web booking log (R19-R23) as the unit's staff read it: a real slotmatchd with a real
// SQLite store (--store) or a real slotmatch-journal (--journal), changes made and the log read
// with the real CLI binary, and the store file read directly to see what the purge (R20) left.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <slotmatch/patient.hpp>

#include "e2e/cli_process.hpp"
#include "e2e/server_process.hpp"
#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

using nlohmann::json;

constexpr const char* base_clock = "2026-03-02T07:00:00+01:00";  // Monday 07:00

// One number from the store file, read by a connection of the test's own; the log's and the
// audit's entries (the store's PATH-entries file) are attached as `entries`, so web_log and
// audit name their tables.
std::int64_t sql_count(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    std::int64_t v = -1;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
        sqlite3_exec(db, ("ATTACH DATABASE '" + path + "-entries' AS entries").c_str(), nullptr,
                     nullptr, nullptr) == SQLITE_OK) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return v;
}

class WebLog : public ::testing::Test {
  protected:
    void SetUp() override {
        config_ = write_temp_file("log-region.yaml", rule_region_yaml);
        store_ = write_temp_file("log.sqlite", "");
        std::filesystem::remove(store_);
        server_ = std::make_unique<ServerProcess>(Args{"--config", config_, "--clock",
                                                       std::string("fixed:") + base_clock,
                                                       "--store", "sqlite:" + store_});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    }

    CliRun cli(const Args& args) const {
        return run_cli(concat({{"--server", server_->endpoint()}, args}));
    }
    json ok(const Args& args) const { return expect_ok(cli(args)); }
    std::string refused(const Args& args) const {
        const json j = expect_refusal(cli(args));
        if (!j.contains("error")) return "";
        return j["error"]["code"].get<std::string>() + ": " +
               j["error"]["message"].get<std::string>();
    }
    // The free slot of `resource` and `type` at local time `iso`, as u1's staff find it.
    std::uint32_t slot(const char* resource, const char* type, const std::string& iso) const {
        const json j = ok(concat({as_staff,
                                  {"find", "--unit", "u1", "--resource", resource, "--type", type,
                                   "--from", iso, "--limit", "1"}}));
        if (!j.contains("slots") || j["slots"].size() != 1) {
            ADD_FAILURE() << "no free slot " << resource << " " << type << " " << iso << ": " << j;
            return 0;
        }
        return j["slots"][0]["slot_id"].get<std::uint32_t>();
    }
    std::uint64_t book(const Args& who, std::uint32_t s, int n, const Args& extra = {}) const {
        const json j =
            ok(concat({who, {"book", "--slot", std::to_string(s), "--patient", pnr(n)}, extra}));
        return j.contains("booking") ? j["booking"]["booking_id"].get<std::uint64_t>() : 0;
    }
    json log(const Args& extra = {}) const {
        return ok(concat({as_staff, {"log", "--unit", "u1"}, extra}));
    }
    // The log's entries once they have followed every committed event (they are written off the
    // commit path, within Follower::lag).
    std::int64_t log_rows_in_store() const {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (sql_count(store_, "SELECT through FROM followed") !=
                   sql_count(store_, "SELECT max(seq) FROM events") &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return sql_count(store_, "SELECT count(*) FROM web_log");
    }

    std::string config_, store_;
    std::unique_ptr<ServerProcess> server_;
};

// R19: each web booking, rebooking and cancellation adds one row; staff and proxy changes none.
TEST_F(WebLog, R19_WebBookRebookCancelEachGiveOneRowStaffAndProxyNone) {
    const auto a = slot("r1", "all3", "2026-03-06T08:00");
    const auto b = slot("r1", "all3", "2026-03-06T08:20");
    const auto id = book(as_web, a, 1);
    const json moved = ok(concat({as_web,
                                  {"rebook", "--booking", std::to_string(id), "--slot",
                                   std::to_string(b), "--patient", pnr(1)}}));
    const auto moved_id = moved["booking"]["booking_id"].get<std::uint64_t>();
    ok(concat({as_web, {"cancel", "--booking", std::to_string(moved_id), "--patient", pnr(1)}}));
    // Staff and a proxy book and cancel too; the web's log does not show them.
    const auto staff_id = book(as_staff, slot("r1", "all3", "2026-03-06T08:40"), 2);
    ok(concat({as_staff, {"cancel", "--booking", std::to_string(staff_id)}}));
    const auto proxy_id = book(as_proxy, slot("r1", "ombud", "2026-03-06T11:00"), 3);
    ok(concat({as_proxy, {"cancel", "--booking", std::to_string(proxy_id), "--patient", pnr(3)}}));

    const json j = log();
    EXPECT_EQ(j.size(), 2u) << j;  // "ok" and "rows"
    ASSERT_EQ(j["rows"].size(), 3u) << j;
    const char* statuses[] = {"Booked", "Rebooked", "Cancelled"};
    for (std::size_t i = 0; i < 3; ++i) {
        const json& row = j["rows"][i];
        EXPECT_EQ(row["status"], statuses[i]) << row;
        EXPECT_EQ(row["patient"], pnr(1));
        EXPECT_EQ(row["changed_by"], "1177 Vårdguidens e-tjänster");  // R17
        EXPECT_EQ(row["changed_at"], "2026-03-02T07:00:00+01:00");
        for (const char* key :
             {"status", "changed_at", "changed_by", "patient", "before", "after", "billable"}) {
            EXPECT_TRUE(row.contains(key)) << "missing " << key << ": " << row;
        }
    }
    EXPECT_EQ(log_rows_in_store(), 3);
}

// R21: a new booking has no before values, a cancellation no after values; a rebooking's
// before and after differ in what moved and agree in what it did not touch.
TEST_F(WebLog, R21_BeforeAfterAndUnchangedColumns) {
    const auto a = slot("r1", "all3", "2026-03-09T08:00");
    const auto b = slot("r1", "all3", "2026-03-10T09:00");
    const auto id = book(as_web, a, 4, {"--phone", "0701234567", "--reason", "Ont i örat"});
    const json moved = ok(concat({as_web,
                                  {"rebook", "--booking", std::to_string(id), "--slot",
                                   std::to_string(b), "--patient", pnr(4)}}));
    const auto moved_id = moved["booking"]["booking_id"].get<std::uint64_t>();
    ok(concat({as_web, {"cancel", "--booking", std::to_string(moved_id), "--patient", pnr(4)}}));

    const json rows = log()["rows"];
    ASSERT_EQ(rows.size(), 3u) << rows;
    const json& booked = rows[0];
    EXPECT_TRUE(booked["before"].is_null()) << booked;
    EXPECT_EQ(booked["after"]["slot_id"], a);
    EXPECT_EQ(booked["after"]["booking_id"], id);
    EXPECT_EQ(booked["after"]["start"], "2026-03-09T08:00:00+01:00");
    EXPECT_EQ(booked["after"]["resource"], "r1");
    EXPECT_EQ(booked["after"]["appointment_type"], "all3");
    EXPECT_EQ(booked["after"]["phone"], "0701234567");  // R18
    EXPECT_EQ(booked["after"]["reason"], "Ont i örat");

    const json& rebooked = rows[1];
    EXPECT_EQ(rebooked["before"]["slot_id"], a);
    EXPECT_EQ(rebooked["after"]["slot_id"], b);
    EXPECT_EQ(rebooked["before"]["booking_id"], id);
    EXPECT_EQ(rebooked["after"]["booking_id"], moved_id);
    EXPECT_EQ(rebooked["before"]["start"], "2026-03-09T08:00:00+01:00");
    EXPECT_EQ(rebooked["after"]["start"], "2026-03-10T09:00:00+01:00");
    for (const char* same : {"resource", "appointment_type", "phone", "reason"}) {
        EXPECT_EQ(rebooked["before"][same], rebooked["after"][same]) << same << ": " << rebooked;
    }

    const json& cancelled = rows[2];
    EXPECT_TRUE(cancelled["after"].is_null()) << cancelled;
    EXPECT_EQ(cancelled["before"]["slot_id"], b);
    EXPECT_EQ(cancelled["before"]["booking_id"], moved_id);
    EXPECT_EQ(cancelled["before"]["phone"], "0701234567");
}

// R23: a rebooking or cancellation less than 24 hours before the visit is billable.
TEST_F(WebLog, R23_LateRebookAndCancelRowsAreBillable) {
    const auto early = book(as_web, slot("r1", "all3", "2026-03-05T08:00"), 5);
    const auto late = book(as_web, slot("r1", "all3", "2026-03-03T08:00"), 6);
    ok(concat({as_web, {"cancel", "--booking", std::to_string(early), "--patient", pnr(5)}}));
    ok({"admin", "clock", "--set", "2026-03-02T08:30:00+01:00"});  // 23.5 h before 03-03 08:00
    const json moved =
        ok(concat({as_web,
                   {"rebook", "--booking", std::to_string(late), "--slot",
                    std::to_string(slot("r1", "all3", "2026-03-03T08:20")), "--patient", pnr(6)}}));
    ok(concat({as_web,
               {"cancel", "--booking",
                std::to_string(moved["booking"]["booking_id"].get<std::uint64_t>()), "--patient",
                pnr(6)}}));
    const json rows = log()["rows"];
    ASSERT_EQ(rows.size(), 5u) << rows;
    EXPECT_EQ(rows[2]["status"], "Cancelled");
    EXPECT_EQ(rows[2]["billable"], false) << "cancelled 3 days ahead";
    EXPECT_EQ(rows[3]["status"], "Rebooked");
    EXPECT_EQ(rows[3]["billable"], true) << rows[3];
    EXPECT_EQ(rows[3]["changed_at"], "2026-03-02T08:30:00+01:00");
    EXPECT_EQ(rows[4]["status"], "Cancelled");
    EXPECT_EQ(rows[4]["billable"], true) << rows[4];
}

// R20: a row is kept 31 days, then purged from the store by the journal, on the server's clock;
// the events stay.
TEST_F(WebLog, R20_RowsArePurgedAfter31DaysByTheServersClock) {
    book(as_web, slot("r1", "all3", "2026-03-06T08:00"), 7);
    ASSERT_EQ(log_rows_in_store(), 1);
    const std::int64_t events = sql_count(store_, "SELECT count(*) FROM events");
    // 30 days later (the same instant, daylight saving time by then).
    ok({"admin", "clock", "--set", "2026-04-01T08:00:00+02:00"});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // three purge checks
    EXPECT_EQ(log_rows_in_store(), 1);
    EXPECT_EQ(log()["rows"].size(), 1u);
    // 31 days and a minute after the change.
    ok({"admin", "clock", "--set", "2026-04-02T08:01:00+02:00"});
    EXPECT_EQ(log()["rows"].size(), 0u);  // never shown past 31 days
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (log_rows_in_store() != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(log_rows_in_store(), 0) << "the journal did not purge the row";
    EXPECT_EQ(sql_count(store_, "SELECT count(*) FROM events"), events);
}

TEST_F(WebLog, SinceNarrowsTheLog) {
    book(as_web, slot("r1", "all3", "2026-03-06T08:00"), 8);
    ok({"admin", "clock", "--set", "2026-03-04T10:00:00+01:00"});
    book(as_web, slot("r1", "all3", "2026-03-06T08:20"), 9);
    EXPECT_EQ(log()["rows"].size(), 2u);
    const json later = log({"--since", "2026-03-03"});
    ASSERT_EQ(later["rows"].size(), 1u) << later;
    EXPECT_EQ(later["rows"][0]["patient"], pnr(9));
    EXPECT_EQ(
        refused(concat({as_staff, {"log", "--unit", "u1", "--since", "tuesday"}})).substr(0, 15),
        "INVALID_REQUEST");
}

// Only the unit's own staff read its log.
TEST_F(WebLog, OnlyTheUnitsStaffMayReadTheLog) {
    book(as_web, slot("r1", "all3", "2026-03-06T08:00"), 10);
    for (const Args& who :
         {as_web, as_proxy, Args{"--channel", "staff", "--actor", "vgr-x", "--actor-unit", "u2"},
          Args{"--channel", "staff", "--actor", "vgr-x"}}) {
        const std::string why = refused(concat({who, {"log", "--unit", "u1"}}));
        EXPECT_EQ(why.rfind("UNAUTHORIZED", 0), 0u) << why;
    }
    EXPECT_EQ(refused(concat({as_staff, {"log", "--unit", "nowhere"}})).rfind("INVALID_REQUEST", 0),
              0u);
}

// R19: a log row names its bookings, and `booking --booking B` opens each, in any state, for
// the unit's staff: the live one from the engine, the ended ones from the store, with who ended
// them; after a restart too, and with the patient the row shows.
TEST_F(WebLog, R19_ALogRowsBookingOpensInAnyState) {
    const auto id = book(as_web, slot("r1", "all3", "2026-03-06T08:00"), 1,
                         {"--phone", "0701234567", "--reason", "Ont i örat"});
    const auto to = slot("r1", "all3", "2026-03-06T08:20");
    const json moved = ok(concat({as_web,
                                  {"rebook", "--booking", std::to_string(id), "--slot",
                                   std::to_string(to), "--patient", pnr(1)}}));
    const auto moved_id = moved["booking"]["booking_id"].get<std::uint64_t>();
    const json live = ok(concat({as_staff, {"booking", "--booking", std::to_string(moved_id)}}));
    EXPECT_EQ(live["state"], "active");
    EXPECT_EQ(live["booking"]["phone"], "0701234567");
    EXPECT_EQ(live["booking"]["slot_id"], to);
    ok(concat({as_web, {"cancel", "--booking", std::to_string(moved_id), "--patient", pnr(1)}}));

    const json rows = log()["rows"];
    ASSERT_EQ(rows.size(), 3U);
    EXPECT_EQ(rows[0]["after"]["booking_id"], id);
    EXPECT_EQ(rows[1]["before"]["booking_id"], id);
    EXPECT_EQ(rows[1]["after"]["booking_id"], moved_id);
    EXPECT_EQ(rows[2]["before"]["booking_id"], moved_id);
    const auto opened = [&](std::uint64_t b, const Args& extra = {}) {
        return ok(concat({as_staff, {"booking", "--booking", std::to_string(b)}, extra}));
    };
    for (int pass = 0; pass < 2; ++pass) {  // before and after a restart
        const json first = opened(id);
        EXPECT_EQ(first["state"], "rebooked") << first;
        EXPECT_EQ(first["rebooked_to"], moved_id);
        EXPECT_EQ(first["booking"]["reason"], "Ont i örat");
        EXPECT_EQ(first["booking"]["start"], "2026-03-06T08:00:00+01:00");
        const json second = opened(moved_id, {"--patient", pnr(1)});
        EXPECT_EQ(second["state"], "cancelled") << second;
        EXPECT_EQ(second["ended_by"], "1177 Vårdguidens e-tjänster");  // R17
        EXPECT_EQ(second["ended_channel"], "web");
        EXPECT_EQ(second["booking"]["patient"], pnr(1));
        server_->stop();
        server_ = std::make_unique<ServerProcess>(Args{"--config", config_, "--clock",
                                                       std::string("fixed:") + base_clock,
                                                       "--store", "sqlite:" + store_});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    }
    // Only the unit's staff; another patient's events do not hold it; an unknown id is unknown.
    for (const Args& who :
         {as_web, as_proxy, Args{"--channel", "staff", "--actor", "vgr-x", "--actor-unit", "u2"}}) {
        const std::string why =
            refused(concat({who, {"booking", "--booking", std::to_string(id)}}));
        EXPECT_EQ(why.rfind("UNAUTHORIZED", 0), 0U) << why;
    }
    EXPECT_EQ(refused(concat({as_staff, {"booking", "--booking", "999999", "--patient", pnr(2)}}))
                  .rfind("BOOKING_NOT_FOUND", 0),
              0U);
    // Each opening is a read of the patient's data: the access audit has it (Patientdatalagen).
    std::size_t reads = 0;
    const json audit = ok(concat({as_staff, {"audit", "--patient", pnr(1)}}));
    for (const json& e : audit["entries"]) {
        if (e["action"] == "booking" && e["outcome"] == "OK") ++reads;
    }
    EXPECT_EQ(reads, 5U);  // the live one, and two ended ones twice
}

// --table: the columns as the staff know them; before values red, after values green,
// unchanged values plain (R21).
TEST_F(WebLog, R21_TablePaintsBeforeRedAndAfterGreen) {
    const auto a = slot("r1", "all3", "2026-03-09T08:00");
    const auto b = slot("r1", "all3", "2026-03-10T09:00");
    const auto id = book(as_web, a, 11);
    ok(concat({as_web,
               {"rebook", "--booking", std::to_string(id), "--slot", std::to_string(b), "--patient",
                pnr(11)}}));
    const std::string red = "\x1b[31m", green = "\x1b[32m", reset = "\x1b[0m";
    const CliRun colored =
        cli(concat({as_staff, {"log", "--unit", "u1", "--table", "--color", "always"}}));
    ASSERT_EQ(colored.exit_code, 0) << colored;
    const std::string& out = colored.out;
    EXPECT_EQ(out.rfind("status", 0), 0u) << out;
    for (const char* title : {"changed at", "changed by", "patient", "slot", "resource", "start",
                              "booking", "billable"}) {
        EXPECT_NE(out.find(title), std::string::npos) << title;
    }
    const auto lines_from = out.find('\n') + 1;
    const std::string booked = out.substr(lines_from, out.find('\n', lines_from) - lines_from);
    const std::string rebooked = out.substr(out.find("Rebooked"));
    // The new booking: after values only, green.
    EXPECT_NE(booked.find(green + std::to_string(a) + reset), std::string::npos) << booked;
    EXPECT_EQ(booked.find(red), std::string::npos) << booked;
    // The rebooking: the slot and start moved (red, then green); the resource did not (plain).
    EXPECT_NE(
        rebooked.find(red + std::to_string(a) + reset + " " + green + std::to_string(b) + reset),
        std::string::npos)
        << rebooked;
    EXPECT_NE(rebooked.find(red + "2026-03-09T08:00:00+01:00" + reset + " " + green +
                            "2026-03-10T09:00:00+01:00" + reset),
              std::string::npos)
        << rebooked;
    EXPECT_NE(rebooked.find("  r1  "), std::string::npos) << rebooked;
    EXPECT_EQ(rebooked.find(red + "r1"), std::string::npos) << rebooked;
    EXPECT_NE(rebooked.find("1177 Vårdguidens e-tjänster"), std::string::npos);
    // Not a terminal (a pipe) and --color never: no escapes at all.
    for (const Args& flags : {Args{"--table"}, Args{"--table", "--color", "never"}}) {
        const CliRun plain = cli(concat({as_staff, {"log", "--unit", "u1"}, flags}));
        ASSERT_EQ(plain.exit_code, 0) << plain;
        EXPECT_EQ(plain.out.find('\x1b'), std::string::npos) << plain.out;
        EXPECT_NE(plain.out.find("Rebooked"), std::string::npos) << plain.out;
    }
}

// ---- the access audit (Patientdatalagen) ----------------------------------------------------

class Audit : public WebLog {
  protected:
    json audit(int n, const Args& extra = {}) const {
        return ok(concat({as_staff, {"audit", "--patient", pnr(n)}, extra}));
    }
    // The entries of one action, in order.
    static std::vector<json> of(const json& reply, const std::string& action) {
        std::vector<json> out;
        for (const json& e : reply["entries"]) {
            if (e["action"] == action) out.push_back(e);
        }
        return out;
    }
};

// A read, a refused booking and a proxy's booking on a citizen's behalf each leave an entry
// with who, on which channel, for whom, whose, where, what and how it ended.
TEST_F(Audit, ReadsRefusalsAndProxyBookingsAreRecordedWithTheirFields) {
    const int p = 20, other = 21;
    ok(concat({as_staff, {"bookings", "--patient", pnr(p)}}));  // a staff read
    const auto noweb = slot("r2", "noweb", "2026-03-10T10:00");
    EXPECT_EQ(
        refused(concat({as_web, {"book", "--slot", std::to_string(noweb), "--patient", pnr(p)}}))
            .rfind("APPOINTMENT_NOT_ALLOWED", 0),
        0u);
    const auto ombud = slot("r1", "ombud", "2026-03-10T11:00");
    const auto booking = book(as_proxy, ombud, p);
    ok(concat({as_web, {"bookings", "--patient", pnr(p)}}));  // the citizen reads their own
    ok(concat({as_staff, {"bookings", "--patient", pnr(other)}}));

    const json j = audit(p);
    const std::set<std::string> fields = {"time",       "action",       "channel", "actor",
                                          "actor_name", "on_behalf_of", "patient", "unit",
                                          "outcome",    "booking_id"};
    for (const json& e : j["entries"]) {
        EXPECT_EQ(keys(e), fields) << e;
        EXPECT_EQ(e["patient"], pnr(p)) << e;
        EXPECT_EQ(e["time"], "2026-03-02T07:00:00+01:00");
    }
    const auto reads = of(j, "bookings");
    ASSERT_EQ(reads.size(), 2u) << j;
    EXPECT_EQ(reads[0]["channel"], "staff");
    EXPECT_EQ(reads[0]["actor"], "vgr-abc123");
    EXPECT_EQ(reads[0]["actor_name"], "Karin Lind");
    EXPECT_TRUE(reads[0]["on_behalf_of"].is_null()) << reads[0];
    EXPECT_EQ(reads[0]["unit"], "u1");
    EXPECT_EQ(reads[0]["outcome"], "OK");
    EXPECT_EQ(reads[1]["channel"], "web");
    EXPECT_EQ(reads[1]["on_behalf_of"], pnr(p));

    const auto books = of(j, "book");
    ASSERT_EQ(books.size(), 2u) << j;
    EXPECT_EQ(books[0]["channel"], "web");  // the refusal
    EXPECT_EQ(books[0]["actor"], "1177-gateway");
    EXPECT_EQ(books[0]["on_behalf_of"], pnr(p));
    EXPECT_EQ(books[0]["unit"], "u1");
    EXPECT_EQ(books[0]["outcome"], "APPOINTMENT_NOT_ALLOWED");
    EXPECT_TRUE(books[0]["booking_id"].is_null());
    EXPECT_EQ(books[1]["channel"], "proxy");  // the proxy's booking, for the citizen
    EXPECT_EQ(books[1]["actor"], "1177-telefon");
    EXPECT_EQ(books[1]["actor_name"], "1177 Vårdguiden på telefon");
    EXPECT_EQ(books[1]["on_behalf_of"], pnr(p));
    EXPECT_EQ(books[1]["outcome"], "OK");
    EXPECT_EQ(books[1]["booking_id"], booking);
    EXPECT_EQ(j["entries"].size(), 4u) << j;

    // Another patient's audit shows none of these, and theirs has their own read.
    const json theirs = audit(other);
    ASSERT_EQ(theirs["entries"].size(), 1u) << theirs;
    EXPECT_EQ(theirs["entries"][0]["patient"], pnr(other));
}

// A citizen who asks to cancel someone else's booking is refused; the attempt is filed under
// the booking's patient (whose data it was), naming the citizen it was made for.
TEST_F(Audit, AnAttemptOnAnothersBookingIsFiledUnderThatPatient) {
    const int owner = 22, intruder = 23;
    const auto booking = book(as_web, slot("r1", "all3", "2026-03-11T08:00"), owner);
    EXPECT_EQ(refused(concat({as_web,
                              {"cancel", "--booking", std::to_string(booking), "--patient",
                               pnr(intruder)}}))
                  .rfind("BOOKING_NOT_FOUND", 0),
              0u);
    const auto cancels = of(audit(owner), "cancel");
    ASSERT_EQ(cancels.size(), 1u);
    EXPECT_EQ(cancels[0]["outcome"], "BOOKING_NOT_FOUND");
    EXPECT_EQ(cancels[0]["on_behalf_of"], pnr(intruder));
    EXPECT_EQ(cancels[0]["booking_id"], booking);
    EXPECT_TRUE(audit(intruder)["entries"].empty());
    // --since leaves out what came before.
    ok({"admin", "clock", "--set", "2026-03-03T07:00:00+01:00"});
    ok(concat({as_staff, {"bookings", "--patient", pnr(owner)}}));
    const json later = audit(owner, {"--since", "2026-03-03"});
    ASSERT_EQ(later["entries"].size(), 1u) << later;
    EXPECT_EQ(later["entries"][0]["action"], "bookings");
}

// Refused holds and waitlist additions are recorded too; a successful waitlist addition is its
// own event.
TEST_F(Audit, RefusedHoldsAndWaitlistAdditionsAreRecorded) {
    const int p = 25;
    const auto noweb = slot("r2", "noweb", "2026-03-10T10:30");
    EXPECT_EQ(
        refused(concat({as_web, {"hold", "--slot", std::to_string(noweb), "--patient", pnr(p)}}))
            .rfind("APPOINTMENT_NOT_ALLOWED", 0),
        0u);
    EXPECT_EQ(refused(concat({as_web,
                              {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient",
                               pnr(p)}}))
                  .rfind("UNAUTHORIZED", 0),
              0u);
    ok(concat(
        {as_staff, {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient", pnr(p)}}));
    const json j = audit(p);
    const auto holds = of(j, "hold");
    ASSERT_EQ(holds.size(), 1u) << j;
    EXPECT_EQ(holds[0]["outcome"], "APPOINTMENT_NOT_ALLOWED");
    EXPECT_EQ(holds[0]["unit"], "u1");
    const auto adds = of(j, "waitlist_add");
    ASSERT_EQ(adds.size(), 2u) << j;
    EXPECT_EQ(adds[0]["outcome"], "UNAUTHORIZED");
    EXPECT_EQ(adds[0]["channel"], "web");
    EXPECT_EQ(adds[1]["outcome"], "OK");
    EXPECT_EQ(adds[1]["channel"], "staff");
}

TEST_F(Audit, OnlyStaffMayReadTheAudit) {
    for (const Args& who : {as_web, as_proxy}) {
        const std::string why = refused(concat({who, {"audit", "--patient", pnr(24)}}));
        EXPECT_EQ(why.rfind("UNAUTHORIZED", 0), 0u) << why;
    }
    EXPECT_EQ(refused(concat({as_staff, {"audit", "--patient", "19121212-1213"}}))
                  .rfind("INVALID_REQUEST", 0),
              0u);
}

// In persisted mode a read of a patient's bookings is answered only once its access is in the
// store (read by another connection as each reply arrives): no read is seen unrecorded.
TEST_F(Audit, APersistedReadIsAnsweredOnlyOnceItsAccessIsCommitted) {
    client::Connection connection(server_->endpoint());
    const client::Identity staff{Channel::staff, "vgr-abc123", "Karin Lind", "u1", "audit-test"};
    constexpr int reads = 40;
    for (int i = 0; i < reads; ++i) {
        client::RequestBuilder r;
        r.start();
        r.add(wire::CreateBookings(r.fbb(), r.fbb().CreateString(pnr(30))));
        const std::uint64_t id = client::new_request_id();
        const auto reply = connection.call(r.finish(staff, id), id, 5000);
        ASSERT_TRUE(reply && reply->message->results()) << "no reply to read " << i;
        ASSERT_FALSE(reply->message->results()->Get(0)->error()) << "read " << i;
        ASSERT_EQ(sql_count(store_, "SELECT count(*) FROM events WHERE kind = " +
                                        std::to_string(static_cast<int>(EventKind::accessed)) +
                                        " AND patient = " + std::to_string(patient(30).value)),
                  i + 1)
            << "read " << i << " was answered before its access was committed";
    }
}

TEST(WebLogWithoutStore, AServerWithoutAStoreRefusesTheLogAndSaysWhy) {
    ServerProcess server({"--config", write_temp_file("log-region.yaml", rule_region_yaml),
                          "--clock", std::string("fixed:") + base_clock});
    ASSERT_FALSE(server.endpoint().empty()) << server.output();
    const CliRun r =
        run_cli(concat({{"--server", server.endpoint()}, as_staff, {"log", "--unit", "u1"}}));
    EXPECT_EQ(r.exit_code, 1) << r;
    const json j = parsed(r);
    ASSERT_TRUE(j.contains("error")) << r;
    EXPECT_EQ(j["error"]["code"], "INVALID_REQUEST");
    EXPECT_NE(j["error"]["message"].get<std::string>().find("no store"), std::string::npos) << j;
}

// slotmatchd --store postgresql://...: the log and the audit read through the server's second
// connection (ctest runs this with the "postgresql" fixture).
TEST(WebLogStore, LogAndAuditOnPostgresql) {
    const char* file = std::getenv("SLOTMATCH_PG_URL_FILE");
    if (file == nullptr)
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    std::string admin;
    std::getline(std::ifstream(file), admin);
    const std::string name = "weblog_" + std::to_string(::getpid());
    PGconn* db = PQconnectdb(admin.c_str());
    ASSERT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
    PQclear(PQexec(db, ("CREATE DATABASE " + name).c_str()));
    PQfinish(db);
    ServerProcess server({"--config", write_temp_file("log-region.yaml", rule_region_yaml),
                          "--clock", std::string("fixed:") + base_clock, "--store",
                          admin.substr(0, admin.rfind('/') + 1) + name});
    ASSERT_FALSE(server.endpoint().empty()) << server.output();
    const Args at = {"--server", server.endpoint()};
    const json found = parsed(run_cli(concat(
        {at,
         as_web,
         {"find", "--unit", "u1", "--type", "all3", "--from", "2026-03-06", "--limit", "1"}})));
    ASSERT_EQ(found["slots"].size(), 1u) << found;
    const CliRun booked =
        run_cli(concat({at,
                        as_web,
                        {"book", "--slot", std::to_string(found["slots"][0]["slot_id"].get<int>()),
                         "--patient", pnr(40)}}));
    ASSERT_EQ(booked.exit_code, 0) << booked;
    const json rows = parsed(run_cli(concat({at, as_staff, {"log", "--unit", "u1"}})))["rows"];
    ASSERT_EQ(rows.size(), 1u) << rows;
    EXPECT_EQ(rows[0]["status"], "Booked");
    EXPECT_EQ(rows[0]["patient"], pnr(40));
    ASSERT_EQ(run_cli(concat({at, as_staff, {"bookings", "--patient", pnr(40)}})).exit_code, 0);
    const json entries =
        parsed(run_cli(concat({at, as_staff, {"audit", "--patient", pnr(40)}})))["entries"];
    ASSERT_EQ(entries.size(), 2u) << entries;
    EXPECT_EQ(entries[0]["action"], "book");
    EXPECT_EQ(entries[1]["action"], "bookings");
    EXPECT_EQ(entries[1]["unit"], "u1");
}

// An ISO 8601 time `days` after the wall clock's now, in UTC.
std::string wall_time_plus_days(int days) {
    const std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+00:00", &utc);
    return text;
}

// slotmatch-journal --config on a new SQLite store, and slotmatchd journalling to it at
// today's wall time, on the rule region with schedules that reach past whatever day that is.
struct Sidecar {
    void start(const std::string& name) {
        std::string yaml = rule_region_yaml;
        for (std::size_t at; (at = yaml.find("valid_to: 2026-12-31")) != std::string::npos;) {
            yaml.replace(at, 20, "valid_to: 2099-12-31");
        }
        config = write_temp_file(name + ".yaml", yaml);
        store = write_temp_file(name + ".sqlite", "");
        std::filesystem::remove(store);
        std::string why;
        ASSERT_TRUE(journal.start(
            SLOTMATCH_JOURNAL_PATH,
            {"--listen", "tcp://127.0.0.1:*", "--store", "sqlite:" + store, "--config", config}, 30,
            why, "slotmatch-journal: listening on "))
            << why;
        server = std::make_unique<ServerProcess>(Args{"--config", config, "--clock",
                                                      "fixed:" + wall_time_plus_days(0),
                                                      "--journal", journal.endpoint()});
        ASSERT_FALSE(server->endpoint().empty()) << server->output();
    }
    std::string config, store;
    process::ServerProcess journal;
    std::unique_ptr<ServerProcess> server;
};

// With the sidecar, slotmatch-journal --config keeps and answers the log on its own endpoint;
// slotmatchd --journal points there. The journal has no engine clock: it purges (R20) by the
// later of its wall clock and the newest committed event's time.
TEST(WebLogSidecar, TheJournalAnswersTheLogOnItsEndpointAndPurgesByEventTime) {
    Sidecar sidecar;
    ASSERT_NO_FATAL_FAILURE(sidecar.start("sidecar-log"));
    const std::string& store = sidecar.store;
    process::ServerProcess& journal = sidecar.journal;
    ServerProcess& server = *sidecar.server;
    const Args at_server = {"--server", server.endpoint()};
    const Args at_journal = {"--server", journal.endpoint()};
    const auto book_first = [&](int n) {
        const json found = parsed(run_cli(concat(
            {at_server, as_web, {"find", "--unit", "u1", "--type", "all3", "--limit", "1"}})));
        ASSERT_EQ(found["slots"].size(), 1u) << found;
        const CliRun booked = run_cli(
            concat({at_server,
                    as_web,
                    {"book", "--slot", std::to_string(found["slots"][0]["slot_id"].get<int>()),
                     "--patient", pnr(n)}}));
        ASSERT_EQ(booked.exit_code, 0) << booked;  // persisted: the journal has committed it
    };
    book_first(12);
    const CliRun r = run_cli(concat({at_journal, as_staff, {"log", "--unit", "u1"}}));
    ASSERT_EQ(r.exit_code, 0) << r;
    const json rows = parsed(r)["rows"];
    ASSERT_EQ(rows.size(), 1u) << r;
    EXPECT_EQ(rows[0]["status"], "Booked");
    EXPECT_EQ(rows[0]["patient"], pnr(12));
    EXPECT_EQ(rows[0]["after"]["resource"], "r1");

    // The access audit too, from the journal's store.
    const CliRun audit = run_cli(concat({at_journal, as_staff, {"audit", "--patient", pnr(12)}}));
    ASSERT_EQ(audit.exit_code, 0) << audit;
    ASSERT_EQ(parsed(audit)["entries"].size(), 1u) << audit;
    EXPECT_EQ(parsed(audit)["entries"][0]["action"], "book");

    // The journal refuses web users and bookings; slotmatchd points at the journal.
    const CliRun web = run_cli(concat({at_journal, as_web, {"log", "--unit", "u1"}}));
    EXPECT_EQ(web.exit_code, 1) << web;
    EXPECT_EQ(parsed(web)["error"]["code"], "UNAUTHORIZED");
    const CliRun book_there =
        run_cli(concat({at_journal, as_web, {"book", "--slot", "1", "--patient", pnr(13)}}));
    EXPECT_EQ(book_there.exit_code, 1) << book_there;
    const CliRun pointed = run_cli(concat({at_server, as_staff, {"log", "--unit", "u1"}}));
    EXPECT_EQ(pointed.exit_code, 1) << pointed;
    EXPECT_NE(pointed.out.find(journal.endpoint()), std::string::npos) << pointed;

    // An event 32 days on moves the journal's "now": the first row goes, the new one stays.
    ASSERT_EQ(run_cli(concat({at_server, {"admin", "clock", "--set", wall_time_plus_days(32)}}))
                  .exit_code,
              0);
    book_first(14);
    const std::string new_rows =
        "SELECT count(*) FROM web_log w JOIN events e ON e.seq = w.seq"
        " WHERE e.patient = " +
        std::to_string(patient(14).value);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    // The new row's entry is written off the commit path; the old one goes with the purge.
    while ((sql_count(store, new_rows) != 1 ||
            sql_count(store, "SELECT count(*) FROM web_log") != 1) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(sql_count(store, new_rows), 1);
    EXPECT_EQ(sql_count(store, "SELECT count(*) FROM web_log"), 1);
    // Both bookings' events stay (the others are the start's: its region file's record).
    EXPECT_EQ(sql_count(store, "SELECT count(*) FROM events WHERE kind = " +
                                   std::to_string(static_cast<int>(EventKind::booked))),
              2);
}

// An appointment type added live is in no region file: slotmatch-journal numbers its file's
// types as the store does, so its log row names the type (and a type the file adds later after
// it, not in its place).
TEST(WebLogSidecar, ALogRowOfATypeAddedLiveNamesTheType) {
    Sidecar sidecar;
    ASSERT_NO_FATAL_FAILURE(sidecar.start("sidecar-added"));
    const Args at_server = {"--server", sidecar.server->endpoint()};
    const auto run = [&](const Args& args) {
        const CliRun r = run_cli(concat({at_server, args}));
        EXPECT_EQ(r.exit_code, 0) << r;
        return parsed(r);
    };
    run(concat({as_staff,
                {"--role", "region-admin", "admin", "type", "add", "--type", "vacc", "--name",
                 "Vaccination", "--duration", "10", "--web-name", "Vaccin", "--web-bookable",
                 "true", "--web-cancellable", "true", "--web-rebookable", "true"}}));
    run(concat({as_staff,
                {"admin", "schedule", "publish", "--unit", "u1", "--resource", "r2", "--type",
                 "vacc", "--weekdays", "sat,sun", "--from", "16:00", "--to", "17:00",
                 "--valid-from", wall_time_plus_days(1).substr(0, 10), "--valid-to",
                 wall_time_plus_days(15).substr(0, 10)}}));
    const json found =
        run(concat({as_web, {"find", "--unit", "u1", "--type", "vacc", "--limit", "1"}}));
    ASSERT_EQ(found["slots"].size(), 1u) << found;
    run(concat(
        {as_web, {"book", "--slot", found["slots"][0]["slot_id"].dump(), "--patient", pnr(21)}}));
    const CliRun r = run_cli(
        concat({{"--server", sidecar.journal.endpoint()}, as_staff, {"log", "--unit", "u1"}}));
    ASSERT_EQ(r.exit_code, 0) << r;
    const json rows = parsed(r)["rows"];
    ASSERT_EQ(rows.size(), 1u) << r;
    EXPECT_EQ(rows[0]["after"]["appointment_type"], "vacc") << r;
    EXPECT_EQ(rows[0]["after"]["resource"], "r2") << r;

    // slotmatchd starts again with a newer region file that adds a type before all others (it
    // is numbered after the live one); the journal keeps its older file and still names both.
    sidecar.server.reset();
    std::string yaml;
    {
        std::ifstream in(sidecar.config);
        yaml.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const std::string wide = "appointment_types:\n";
    yaml.insert(yaml.find(wide) + wide.size(),
                "  - {id: tbe, name: TBE-vaccination, web_name: TBE, web_bookable: true,\n"
                "     web_cancellable: true, web_rebookable: true, duration_min: 15}\n");
    const std::string schedules = "        schedules:\n";
    yaml.insert(yaml.find(schedules) + schedules.size(),
                "          - {resource: r1, appointment_type: tbe, weekdays: [sat, sun],\n"
                "             from: \"17:00\", to: \"18:00\", valid_from: " +
                    wall_time_plus_days(1).substr(0, 10) +
                    ", valid_to: " + wall_time_plus_days(15).substr(0, 10) + "}\n");
    const std::string newer = write_temp_file("sidecar-added-newer.yaml", yaml);
    ServerProcess again({"--config", newer, "--clock", "fixed:" + wall_time_plus_days(0),
                         "--journal", sidecar.journal.endpoint()});
    ASSERT_FALSE(again.endpoint().empty()) << again.output();
    const Args at_again = {"--server", again.endpoint()};
    const json tbe = parsed(run_cli(
        concat({at_again, as_web, {"find", "--unit", "u1", "--type", "tbe", "--limit", "1"}})));
    ASSERT_EQ(tbe["slots"].size(), 1u) << tbe;
    ASSERT_EQ(run_cli(concat({at_again,
                              as_web,
                              {"book", "--slot", tbe["slots"][0]["slot_id"].dump(), "--patient",
                               pnr(22)}}))
                  .exit_code,
              0);
    const CliRun both = run_cli(
        concat({{"--server", sidecar.journal.endpoint()}, as_staff, {"log", "--unit", "u1"}}));
    ASSERT_EQ(both.exit_code, 0) << both;
    const json two = parsed(both)["rows"];
    ASSERT_EQ(two.size(), 2u) << both;
    EXPECT_EQ(two[0]["after"]["appointment_type"], "vacc") << both;
    EXPECT_EQ(two[1]["after"]["appointment_type"], "tbe") << both;
}

}  // namespace
}  // namespace slotmatch::testing
