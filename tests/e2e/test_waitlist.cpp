// The waitlist on a real slotmatchd with a SQLite store (issue 11, point 4): entries end and
// their records are reused, so 200,000 add/remove cycles, three times the table of earlier
// versions, are never refused with OVERLOADED, and the restart that follows keeps who waits.
// `slotmatch waitlist remove --entry E` takes a patient off; R22's place survives the restart.
#include <signal.h>

#include "e2e/rule_server.hpp"

namespace slotmatch::testing {
namespace {

using nlohmann::json;

class WaitlistServer : public RuleServer {
  protected:
    std::vector<std::string> waiting() const {
        std::vector<std::string> out;
        const json list = ok(concat({as_staff, {"waitlist", "list", "--unit", "u1"}}));
        for (const json& e : list["entries"]) out.push_back(e["patient"].get<std::string>());
        return out;
    }
};

TEST_F(WaitlistServer, TwoHundredThousandAddAndRemoveCyclesAreNeverOverloadedThenARestart) {
    client::Connection connection(server_->endpoint());
    const client::Identity staff{Channel::staff, "vgr-abc123", "Karin Lind", "u1", "waitlist-test"};
    constexpr int cycles = 200'000;
    constexpr int per_message = 500;  // patients in one message: all added, then all removed
    std::vector<std::string> patients;
    for (int n = 0; n < per_message; ++n) patients.push_back(pnr(n));
    std::uint64_t request = 1;
    const auto call = [&](client::RequestBuilder& r) {
        const std::uint64_t id = request++;
        auto reply = connection.call(r.finish(staff, id), id, 30'000);
        EXPECT_TRUE(reply && reply->message->results());
        return reply;
    };
    for (int done = 0; done < cycles; done += per_message) {
        client::RequestBuilder adds;
        adds.start();
        for (const std::string& p : patients) {
            auto& b = adds.fbb();
            adds.add(wire::CreateWaitlistAdd(b, b.CreateString("u1"), b.CreateString("all3"),
                                             b.CreateString(p)));
        }
        auto added = call(adds);
        ASSERT_TRUE(added);
        client::RequestBuilder removes;
        removes.start();
        for (const wire::Result* r : *added->message->results()) {
            ASSERT_TRUE(r->body_as_WaitlistReply())
                << "cycle " << done << ": " << wire::EnumNameErrorCode(r->error()->code()) << " "
                << r->error()->message()->str();
            removes.add(wire::CreateWaitlistRemove(
                removes.fbb(), r->body_as_WaitlistReply()->entries()->Get(0)->id()));
        }
        auto removed = call(removes);
        ASSERT_TRUE(removed);
        for (const wire::Result* r : *removed->message->results()) {
            ASSERT_TRUE(r->body_as_WaitlistReply()) << "cycle " << done << ": a remove refused";
        }
    }
    ok(concat(
        {as_staff, {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient", pnr(1)}}));
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();
    ASSERT_NO_FATAL_FAILURE(start());
    EXPECT_EQ(waiting(), std::vector{pnr(1)});
    EXPECT_NE(server_->output().find("1 waiting"), std::string::npos) << server_->output();
}

TEST_F(WaitlistServer, StaffTakeAPatientOffAndR22KeepsAReturnedPatientsPlaceAcrossARestart) {
    const json first = ok(concat(
        {as_staff, {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient", pnr(1)}}));
    ok(concat({as_staff, {"admin", "clock", "--set", "2026-03-02T07:10:00+01:00"}}));
    ok(concat(
        {as_staff, {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient", pnr(2)}}));
    const json third = ok(concat(
        {as_staff, {"waitlist", "add", "--unit", "u1", "--type", "all3", "--patient", pnr(3)}}));
    // Patient 3 is taken off; an id given once is refused the second time, naming the field.
    const json removed =
        ok(concat({as_staff,
                   {"waitlist", "remove", "--entry",
                    std::to_string(third["entry"]["waitlist_id"].get<std::uint64_t>())}}));
    EXPECT_EQ(removed["entry"]["patient"], pnr(3));
    const json again = expect_refusal(
        run_cli(concat({{"--server", server_->endpoint()},
                        as_staff,
                        {"waitlist", "remove", "--entry",
                         std::to_string(third["entry"]["waitlist_id"].get<std::uint64_t>())}})));
    EXPECT_EQ(again["error"]["code"], "INVALID_REQUEST");
    EXPECT_EQ(again["error"]["field"], "entry");
    // Patient 1 is booked from the waitlist, then cancels on the web: back, in first place.
    const json slots = ok(
        concat({as_staff,
                {"find", "--unit", "u1", "--resource", "r1", "--type", "all3", "--limit", "1"}}));
    const std::string slot = std::to_string(slots["slots"][0]["slot_id"].get<std::uint32_t>());
    const json booked =
        ok(concat({as_staff, {"book", "--slot", slot, "--patient", pnr(1), "--from-waitlist"}}));
    EXPECT_EQ(waiting(), std::vector{pnr(2)});
    const std::string booking =
        std::to_string(booked["booking"]["booking_id"].get<std::uint64_t>());
    const json cancelled =
        ok(concat({as_web, {"cancel", "--booking", booking, "--patient", pnr(1)}}));
    EXPECT_EQ(cancelled["returned_to_waitlist"], true);
    EXPECT_EQ(waiting(), (std::vector{pnr(1), pnr(2)}));
    server_->stop();
    ASSERT_NO_FATAL_FAILURE(start());
    const json list = ok(concat({as_staff, {"waitlist", "list", "--unit", "u1"}}));
    ASSERT_EQ(list["entries"].size(), 2U);
    EXPECT_EQ(list["entries"][0]["patient"], pnr(1));
    EXPECT_EQ(list["entries"][0]["added_at"], first["entry"]["added_at"]);
}

}  // namespace
}  // namespace slotmatch::testing
