// The slotmatch CLI as a user runs it: the real binary, started as a child process against a real
// slotmatchd, its stdout parsed as JSON and its exit code checked (ARCHITECTURE.md: 0 ok,
// 1 refused with error.code, 2 bad usage or no server within --timeout-ms). The reply shapes'
// field names are part of the contract, so the tests compare key sets exactly where the contract
// lists them. Every run of the binary is bounded: a CLI that hangs is killed and reported.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <slotmatch/patient.hpp>

#include "e2e/cli_process.hpp"
#include "e2e/server_process.hpp"
#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

using nlohmann::json;

constexpr const char* base_clock = "2026-03-02T07:00:00+01:00";

bool has_keys(const json& j, std::initializer_list<const char*> wanted) {
    const auto k = keys(j);
    for (const char* w : wanted) {
        if (!k.count(w)) return false;
    }
    return true;
}

const std::set<std::string> slot_keys = {"slot_id", "unit", "resource", "appointment_type",
                                         "start",   "end",  "state"};
const std::set<std::string> booking_keys = {
    "booking_id", "slot_id", "unit",    "resource",   "appointment_type",
    "start",      "patient", "channel", "changed_by", "from_waitlist"};

// Every documented booking field is there (phone and reason come on top when given, R18).
void expect_booking_shape(const json& b) {
    const auto k = keys(b);
    for (const auto& want : booking_keys)
        EXPECT_TRUE(k.count(want)) << "missing " << want << ": " << b;
    for (const auto& have : k) {
        EXPECT_TRUE(booking_keys.count(have) || have == "phone" || have == "reason")
            << "undocumented booking field " << have;
    }
}


// A port on loopback that nothing listens on (bound, then released).
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ADD_FAILURE() << "cannot find a free port";
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

class Cli : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<ServerProcess>(
            Args{"--config", write_temp_file("cli-region.yaml", rule_region_yaml), "--clock",
                 std::string("fixed:") + base_clock});
    }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override {
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
        // The fixed clock back at Monday 07:00, whatever an earlier test did with it.
        const CliRun reset = cli({"admin", "clock", "--set", base_clock});
        ASSERT_EQ(reset.exit_code, 0) << reset;
    }

    // The CLI against this suite's server.
    static CliRun cli(const Args& args) {
        return run_cli(concat({{"--server", server_->endpoint()}, args}));
    }
    // A run that must succeed: its JSON document, with "ok": true.
    static json ok(const Args& args) { return expect_ok(cli(args)); }
    // A run that must be refused: exit 1 and the JSON error's code.
    static std::string refused(const Args& args) {
        const json j = expect_refusal(cli(args));
        if (!j.contains("error")) return "";
        EXPECT_EQ(j["ok"], false);
        EXPECT_EQ(keys(j["error"]), (std::set<std::string>{"code", "message", "field"}));
        return j["error"]["code"].get<std::string>();
    }
    // The slot of `resource` and `type` at local time `iso` ("2026-03-06T08:00"), as the unit's
    // staff find it (they see every type, with no booking window).
    static std::uint32_t slot(const char* resource, const char* type, const std::string& iso,
                              const char* unit = "u1") {
        Args staff = as_staff;
        staff.back() = unit;
        const json j = ok(concat({staff,
                                  {"find", "--unit", unit, "--resource", resource, "--type", type,
                                   "--from", iso, "--limit", "1"}}));
        if (!j.contains("slots") || j["slots"].size() != 1 ||
            j["slots"][0]["start"].get<std::string>().rfind(iso, 0) != 0) {
            ADD_FAILURE() << "no free slot " << resource << " " << type << " " << iso << ": " << j;
            return 0;
        }
        return j["slots"][0]["slot_id"].get<std::uint32_t>();
    }

    static inline std::unique_ptr<ServerProcess> server_;
};

// ---- exit 0 and the documented shapes --------------------------------------------------------

TEST_F(Cli, CatalogPrintsUnitsAndAppointmentTypes) {
    const json all = ok({"catalog"});
    EXPECT_TRUE(has_keys(all, {"ok", "units", "appointment_types"})) << all;
    ASSERT_TRUE(all["units"].is_array() && all["appointment_types"].is_array());
    EXPECT_EQ(all["units"].size(), 3U);
    const json one = ok({"catalog", "--unit", "u1"});
    ASSERT_EQ(one["units"].size(), 1U);
    const json& u1 = one["units"][0];
    EXPECT_EQ(u1["id"], "u1");
    EXPECT_EQ(u1["web"]["terms_book"], "Avboka senast 24 timmar innan.");  // R25
    EXPECT_EQ(u1["web"]["terms_cancel_rebook"], "Ring oss vid frågor.");
    bool saw_ombud = false;
    for (const json& t : one["appointment_types"]) {
        if (t["id"] != "ombud") continue;
        saw_ombud = true;
        EXPECT_EQ(t["proxy"], true);  // R8
        EXPECT_EQ(t["web_name"], "Bedömning via 1177");
    }
    EXPECT_TRUE(saw_ombud) << "a region-wide proxy type is usable in every unit";
}

TEST_F(Cli, FindPrintsFreeSlotsInTheDocumentedShapeSortedByStart) {
    const json j = ok({"find", "--unit", "u1", "--type", "all3", "--from", "2026-03-04", "--to",
                       "2026-03-05", "--limit", "100"});
    EXPECT_EQ(keys(j), (std::set<std::string>{"ok", "slots"}));
    ASSERT_TRUE(j["slots"].is_array());
    // --from/--to are inclusive days: r1 has six all3 slots a day, r2 three.
    EXPECT_EQ(j["slots"].size(), 18U);
    std::string previous;
    for (const json& s : j["slots"]) {
        EXPECT_EQ(keys(s), slot_keys) << s;
        EXPECT_EQ(s["unit"], "u1");
        EXPECT_EQ(s["appointment_type"], "all3");
        EXPECT_EQ(s["state"], "free");
        const std::string start = s["start"];
        EXPECT_TRUE(start.rfind("2026-03-04T", 0) == 0 || start.rfind("2026-03-05T", 0) == 0)
            << start;
        EXPECT_EQ(start.substr(19), "+01:00") << "ISO 8601 with the offset";
        EXPECT_LE(previous, start) << "sorted by start";  // one offset: text order is time order
        previous = start;
    }
    EXPECT_EQ(ok({"find", "--unit", "u1", "--limit", "2"})["slots"].size(), 2U);
}

TEST_F(Cli, BookPrintsTheDocumentedBookingShape) {
    const auto s = slot("r1", "all3", "2026-03-06T08:00");
    const json j = ok({"book", "--slot", std::to_string(s), "--patient", pnr(1), "--phone",
                       "0701234567", "--reason", "Ont i halsen"});
    EXPECT_EQ(keys(j), (std::set<std::string>{"ok", "booking"}));
    const json& b = j["booking"];
    expect_booking_shape(b);
    EXPECT_EQ(b["slot_id"], s);
    EXPECT_EQ(b["unit"], "u1");
    EXPECT_EQ(b["resource"], "r1");
    EXPECT_EQ(b["appointment_type"], "all3");
    EXPECT_EQ(b["start"], "2026-03-06T08:00:00+01:00");
    EXPECT_EQ(b["patient"], pnr(1));
    EXPECT_EQ(b["channel"], "web");
    EXPECT_EQ(b["changed_by"], "1177 Vårdguidens e-tjänster");  // R17
    EXPECT_EQ(b["from_waitlist"], false);
    EXPECT_EQ(b["phone"], "0701234567");  // R18: u1 asks for the patient's comment
    EXPECT_EQ(b["reason"], "Ont i halsen");
}

TEST_F(Cli, BookWithoutASlotTakesTheEarliestMatch) {
    const json j = ok({"book", "--unit", "u1", "--type", "all3", "--resource", "r2", "--from",
                       "2026-03-11", "--patient", pnr(2)});
    ASSERT_TRUE(j.contains("booking")) << j;
    EXPECT_EQ(j["booking"]["resource"], "r2");
    EXPECT_EQ(j["booking"]["start"], "2026-03-11T08:00:00+01:00");
}

TEST_F(Cli, HoldPrintsTheDocumentedShapeAndBookingTheHoldTakesItsSlot) {
    const auto s = slot("r1", "all3", "2026-03-06T08:20");
    const json h = ok({"hold", "--slot", std::to_string(s), "--patient", pnr(3)});
    EXPECT_EQ(keys(h), (std::set<std::string>{"ok", "hold_id", "expires_at", "slot"}));
    EXPECT_EQ(h["expires_at"], "2026-03-02T07:05:00+01:00") << "now + hold_ttl_s (300)";
    EXPECT_EQ(keys(h["slot"]), slot_keys);
    EXPECT_EQ(h["slot"]["slot_id"], s);
    EXPECT_EQ(h["slot"]["state"], "held");
    EXPECT_EQ(refused({"book", "--slot", std::to_string(s), "--patient", pnr(4)}),
              "SLOT_ALREADY_RESERVED");
    const json b = ok(
        {"book", "--hold", std::to_string(h["hold_id"].get<std::uint64_t>()), "--patient", pnr(3)});
    EXPECT_EQ(b["booking"]["slot_id"], s);
}

TEST_F(Cli, RebookAndCancelAddBillable) {
    const auto a = slot("r1", "all3", "2026-03-06T08:40");
    const auto b = slot("r1", "all3", "2026-03-06T09:00");
    const auto c = slot("r1", "all3", "2026-03-03T08:00");
    const json booked = ok({"book", "--slot", std::to_string(a), "--patient", pnr(5)});
    const auto id = booked["booking"]["booking_id"].get<std::uint64_t>();
    const json moved = ok({"rebook", "--booking", std::to_string(id), "--slot", std::to_string(b),
                           "--patient", pnr(5)});
    EXPECT_TRUE(has_keys(moved, {"ok", "booking", "billable"})) << moved;
    EXPECT_EQ(moved["billable"], false);
    expect_booking_shape(moved["booking"]);
    EXPECT_EQ(moved["booking"]["slot_id"], b);
    const auto moved_id = moved["booking"]["booking_id"].get<std::uint64_t>();
    const json cancelled =
        ok({"cancel", "--booking", std::to_string(moved_id), "--patient", pnr(5)});
    EXPECT_TRUE(has_keys(cancelled, {"ok", "booking", "billable"})) << cancelled;
    EXPECT_EQ(cancelled["billable"], false);

    // R23 through the CLI: cancelled 23.5 hours before the visit is billable.
    const json late = ok({"book", "--slot", std::to_string(c), "--patient", pnr(6)});
    ok({"admin", "clock", "--set", "2026-03-02T08:30:00+01:00"});
    const json billed = ok({"cancel", "--booking",
                            std::to_string(late["booking"]["booking_id"].get<std::uint64_t>()),
                            "--patient", pnr(6)});
    EXPECT_EQ(billed["billable"], true);
}

TEST_F(Cli, BookingsPrintsTheDocumentedShape) {
    const auto s = slot("r1", "all3", "2026-03-06T09:20");
    const json booked = ok({"book", "--slot", std::to_string(s), "--patient", pnr(7)});
    const json j = ok({"bookings", "--patient", pnr(7)});
    EXPECT_EQ(keys(j), (std::set<std::string>{"ok", "bookings"}));
    ASSERT_EQ(j["bookings"].size(), 1U) << j;
    expect_booking_shape(j["bookings"][0]);
    EXPECT_EQ(j["bookings"][0]["booking_id"], booked["booking"]["booking_id"]);
    EXPECT_EQ(ok({"bookings", "--patient", pnr(8)})["bookings"], json::array());
}

TEST_F(Cli, ChannelAndActorComeFromTheFlags) {
    // Proxies are offered proxy types only (R8); staff book a type the web never sees (R7) and
    // are named as the one who changed it (R17).
    const json offered = ok(
        concat({as_proxy, {"find", "--unit", "u1", "--from", "2026-03-10", "--to", "2026-03-10"}}));
    ASSERT_FALSE(offered["slots"].empty());
    for (const json& s : offered["slots"]) EXPECT_EQ(s["appointment_type"], "ombud");
    const auto noweb = slot("r2", "noweb", "2026-03-10T10:00");
    EXPECT_EQ(refused({"book", "--slot", std::to_string(noweb), "--patient", pnr(9)}),
              "APPOINTMENT_NOT_ALLOWED");
    const json b =
        ok(concat({as_staff, {"book", "--slot", std::to_string(noweb), "--patient", pnr(9)}}));
    EXPECT_EQ(b["booking"]["channel"], "staff");
    EXPECT_EQ(b["booking"]["changed_by"], "Karin Lind (vgr-abc123)");
}

TEST_F(Cli, WaitlistBookingCancelledOnTheWebReturnsToTheWaitlist) {
    // R22 as staff and a citizen would do it with the CLI.
    const auto s = slot("r1", "all3", "2026-03-12T08:00");
    const json added = ok(concat(
        {as_staff, {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient", pnr(10)}}));
    EXPECT_EQ(added["entry"]["patient"], pnr(10));
    const json b = ok(
        concat({as_staff,
                {"book", "--slot", std::to_string(s), "--patient", pnr(10), "--from-waitlist"}}));
    EXPECT_EQ(b["booking"]["from_waitlist"], true);
    const json c =
        ok({"cancel", "--booking", std::to_string(b["booking"]["booking_id"].get<std::uint64_t>()),
            "--patient", pnr(10)});
    EXPECT_EQ(c["returned_to_waitlist"], true);
    const json list = ok(concat({as_staff, {"waitlist", "list", "--unit", "u1"}}));
    bool back = false;
    for (const json& e : list["entries"]) back = back || e["patient"] == pnr(10);
    EXPECT_TRUE(back) << list;
}

TEST_F(Cli, ARetryWithTheSameRequestIdPrintsTheFirstAnswer) {
    const auto s = slot("r1", "all3", "2026-03-12T08:20");
    const Args book = {"--request-id", "424242",          "--client",  "cli-test", "book",
                       "--slot",       std::to_string(s), "--patient", pnr(11)};
    const json first = ok(book);
    const json retry = ok(book);
    EXPECT_EQ(retry["booking"]["booking_id"], first["booking"]["booking_id"])
        << "a retry must not be refused as a double booking, nor book twice";
    // The same id for another request is a message-level refusal: exit 1 all the same.
    const auto other = slot("r1", "all3", "2026-03-12T08:40");
    const CliRun conflict = cli({"--request-id", "424242", "--client", "cli-test", "book", "--slot",
                                 std::to_string(other), "--patient", pnr(11)});
    EXPECT_EQ(conflict.exit_code, 1) << conflict;
    const json j = parsed(conflict);
    ASSERT_FALSE(j.is_discarded()) << conflict;
    EXPECT_EQ(j["error"]["code"], "INVALID_REQUEST");
    EXPECT_EQ(j["error"]["field"], "request_id");
}

// ---- exit 1: refused, with the error code ------------------------------------------------------

// Staff commands and the rest: block and unblock, rebook --first, stats and keygen, each
// exiting 0 with its documented fields.
TEST_F(Cli, BlockUnblockRebookFirstStatsAndKeygen) {
    const json blocked = ok(concat({as_staff,
                                    {"block", "--resource", "r2", "--from", "2026-03-20", "--to",
                                     "2026-03-20", "--reason", "Utbildningsdag"}}));
    ASSERT_TRUE(blocked.contains("block_id"));
    EXPECT_GT(blocked["slots_changed"].get<int>(), 0);
    const json unblocked = ok(
        concat({as_staff,
                {"unblock", "--block", std::to_string(blocked["block_id"].get<std::uint64_t>())}}));
    EXPECT_EQ(unblocked["slots_changed"], blocked["slots_changed"]);

    const std::uint32_t later = slot("r1", "all3", "2026-03-25T09:00");
    const json booked = ok(concat(
        {as_staff, {"book", "--slot", std::to_string(later), "--patient", "19121212-1212"}}));
    const json moved = ok(concat(
        {as_staff,
         {"rebook", "--booking",
          std::to_string(booked["booking"]["booking_id"].get<std::uint64_t>()), "--first"}}));
    EXPECT_LT(moved["booking"]["start"].get<std::string>(),
              booked["booking"]["start"].get<std::string>());  // moved earlier (--first)
    EXPECT_TRUE(moved.contains("billable"));

    const json stats = ok({"stats"});
    for (const char* key : {"messages", "operations", "in_flight", "latency_us", "counts"}) {
        EXPECT_TRUE(stats.contains(key)) << key;
    }
    EXPECT_GT(stats["messages"].get<std::uint64_t>(), 0u);

    const std::string dir = write_temp_file("keys-dir", "") + ".d";
    const json keys = ok({"keygen", "--out", dir, "--name", "server"});
    EXPECT_EQ(keys["public_key"].get<std::string>().size(), 40u);  // Z85 of 32 bytes
    std::ifstream pub(dir + "/server.pub");
    std::string text;
    std::getline(pub, text);
    EXPECT_EQ(text, keys["public_key"].get<std::string>());
}

TEST_F(Cli, ARefusalExitsOneWithTheErrorCode) {
    const auto s = slot("r1", "all3", "2026-03-13T08:00");
    const auto kept = slot("r1", "norecancel", "2026-03-13T10:00");
    ok({"book", "--slot", std::to_string(s), "--patient", pnr(12)});
    EXPECT_EQ(refused({"book", "--slot", std::to_string(s), "--patient", pnr(13)}),
              "SLOT_ALREADY_RESERVED");
    const json k = ok({"book", "--slot", std::to_string(kept), "--patient", pnr(14)});
    EXPECT_EQ(refused({"cancel", "--booking",
                       std::to_string(k["booking"]["booking_id"].get<std::uint64_t>()), "--patient",
                       pnr(14)}),
              "CANCEL_NOT_ALLOWED");  // R3
    EXPECT_EQ(refused({"book", "--slot", std::to_string(s), "--patient", "19800101-1234"}),
              "INVALID_REQUEST");  // the Luhn digit is wrong
    EXPECT_EQ(refused({"find", "--unit", "no-such-unit"}), "INVALID_REQUEST");
    EXPECT_EQ(refused(concat(
                  {as_staff,
                   {"block", "--resource", "r3", "--from", "2026-03-13", "--to", "2026-03-13"}})),
              "UNAUTHORIZED");  // r3 is u2's
}

// ---- exit 2: bad usage, or no server -----------------------------------------------------------

TEST_F(Cli, BadUsageExitsTwoAndSaysWhy) {
    const std::vector<Args> cases = {
        {},                                                  // no command
        {"frobnicate"},                                      // unknown command
        {"find"},                                            // --unit missing
        {"book", "--patient", pnr(15)},                      // no slot, hold or unit
        {"book", "--unit", "u1", "--patient", pnr(15)},      // --unit without --type
        {"rebook", "--booking", "1", "--patient", pnr(15)},  // neither --slot nor --first
        {"hold", "--slot", "twelve", "--patient", pnr(15)},  // not a number
        {"--channel", "telepathy", "find", "--unit", "u1"},  // no such channel
        {"waitlist"},                                        // a command word missing
    };
    for (const Args& args : cases) {
        const CliRun r = cli(args);
        EXPECT_EQ(r.exit_code, 2) << r;
        EXPECT_FALSE(r.err.empty()) << "bad usage says why on stderr: " << r;
        EXPECT_EQ(r.out.find("\"ok\":true"), std::string::npos) << r;
    }
    const CliRun help = cli({"--help"});
    EXPECT_EQ(help.exit_code, 0) << help;
    EXPECT_NE(help.out.find("usage"), std::string::npos) << help;
}

TEST_F(Cli, NegativeNumbersAreBadUsage) {
    // Ids and limits are unsigned. A "-1" typed by mistake must be caught
    // on the command line (exit 2), not wrapped to 4294967295 and sent to the server, whose
    // refusal (exit 1: "unknown slot", "no such booking") then blames the wrong thing.
    for (const Args& args : {Args{"hold", "--slot", "-1", "--patient", pnr(17)},
                             Args{"cancel", "--booking", "-5", "--patient", pnr(17)},
                             Args{"find", "--unit", "u1", "--limit", "-1"}}) {
        const CliRun r = cli(args);
        EXPECT_EQ(r.exit_code, 2) << r;
    }
}

TEST_F(Cli, NoServerExitsTwoWithinTheTimeout) {
    const std::string nowhere = "tcp://127.0.0.1:" + std::to_string(closed_port());
    for (const Args& command : {Args{"find", "--unit", "u1"}, Args{"catalog"}, Args{"stats"},
                                Args{"book", "--slot", "1", "--patient", pnr(16)}}) {
        const CliRun r = run_cli(concat({{"--server", nowhere, "--timeout-ms", "300"}, command}));
        EXPECT_FALSE(r.timed_out) << "the CLI hung: " << r;
        EXPECT_EQ(r.exit_code, 2) << r;
        EXPECT_LT(r.elapsed.count(), 3000) << "--timeout-ms 300 bounds the wait: " << r;
        EXPECT_FALSE(r.err.empty()) << r;
    }
}

TEST_F(Cli, AServerThatNeverAnswersExitsTwoWithinTheTimeout) {
    // A ZeroMQ peer that accepts the connection and the request but never replies: the CLI
    // must give up after --timeout-ms, not wait for ever.
    zmq::context_t ctx(1);
    zmq::socket_t silent(ctx, zmq::socket_type::router);
    silent.set(zmq::sockopt::linger, 0);
    silent.bind("tcp://127.0.0.1:*");
    const std::string endpoint = silent.get(zmq::sockopt::last_endpoint);
    for (const Args& command : {Args{"find", "--unit", "u1"}, Args{"stats"}}) {
        const CliRun r = run_cli(concat({{"--server", endpoint, "--timeout-ms", "300"}, command}));
        EXPECT_FALSE(r.timed_out) << "the CLI hung: " << r;
        EXPECT_EQ(r.exit_code, 2) << r;
        EXPECT_LT(r.elapsed.count(), 3000) << r;
    }
    // The requests did arrive: the CLI waited on a live peer, not on a failed connect.
    zmq::pollitem_t item{silent.handle(), 0, ZMQ_POLLIN, 0};
    EXPECT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(1000)), 1);
}

TEST_F(Cli, AdminClockIsRefusedOnARealTimeServer) {
    ServerProcess real_time(
        Args{"--config", write_temp_file("cli-real-time.yaml", rule_region_yaml)});
    ASSERT_FALSE(real_time.endpoint().empty()) << real_time.output();
    const CliRun r =
        run_cli({"--server", real_time.endpoint(), "admin", "clock", "--set", base_clock});
    EXPECT_EQ(r.exit_code, 1) << r;
    const json j = parsed(r);
    ASSERT_FALSE(j.is_discarded()) << r;
    EXPECT_EQ(j["error"]["code"], "INVALID_REQUEST");
}

}  // namespace
}  // namespace slotmatch::testing
