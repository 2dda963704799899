// slotmatchd as a process: it starts, answers, keeps retries idempotent, routes to workers,
// expires holds on its own, and stops cleanly on SIGTERM.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <vector>
#include <cstdlib>
#include <map>
#include <slotmatch/patient.hpp>

#include "e2e/server_process.hpp"
#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

constexpr int timeout_ms = 5000;

client::Identity web_gateway() {
    return {Channel::web, "1177-gateway", "", "", "e2e"};
}

class Server : public ::testing::TestWithParam<unsigned> {
  protected:
    void SetUp() override {
        config_ = write_temp_file("region.yaml", rule_region_yaml);
        server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
            "--config", config_, "--clock", "fixed:2026-03-02T07:00:00+01:00", "--threads",
            std::to_string(GetParam())});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
        connection_ = std::make_unique<client::Connection>(server_->endpoint());
    }

    // One operation; the reply's single result (an empty one when the whole message was
    // refused: see reply_->message->error()).
    template <typename Make>
    const wire::Result& call(Make make, std::uint64_t id = 0) {
        request_.start();
        request_.add(make(request_.fbb()));
        if (id == 0) id = client::new_request_id();
        reply_ = connection_->call(request_.finish(web_gateway(), id), id, timeout_ms);
        static flatbuffers::FlatBufferBuilder empty = [] {
            flatbuffers::FlatBufferBuilder b;
            b.Finish(wire::CreateResult(b));
            return b;
        }();
        if (!reply_ || !reply_->message->results() || reply_->message->results()->size() != 1) {
            ADD_FAILURE_AT(__FILE__, __LINE__) << "no single result";
            return *flatbuffers::GetRoot<wire::Result>(empty.GetBufferPointer());
        }
        return *reply_->message->results()->Get(0);
    }
    std::uint32_t first_free_slot() {
        const auto& r = call([](auto& b) {
            return wire::CreateFind(b, b.CreateString("u1"), b.CreateString("all3"));
        });
        EXPECT_TRUE(r.body_as_SlotList()) << (r.error() ? r.error()->message()->str() : "");
        return r.body_as_SlotList()->slots()->Get(0)->slot_id();
    }

    std::string config_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<client::Connection> connection_;
    client::RequestBuilder request_;
    std::optional<client::Reply> reply_;
};

auto book(std::uint32_t slot, const char* patient) {
    return [=](flatbuffers::FlatBufferBuilder& b) {
        const auto p = b.CreateString(patient);
        wire::BookBuilder book(b);
        book.add_slot(slot);
        book.add_patient(p);
        return book.Finish();
    };
}

TEST_P(Server, BooksOnceAndRefusesTheSecondBookingOfTheSameSlot) {
    const std::uint32_t slot = first_free_slot();
    const auto& first = call(book(slot, "19121212-1212"));
    ASSERT_TRUE(first.body_as_BookingReply());
    EXPECT_EQ(first.body_as_BookingReply()->booking()->slot()->slot_id(), slot);
    const auto& second = call(book(slot, "19900101-0017"));
    ASSERT_TRUE(second.error());
    EXPECT_EQ(second.error()->code(), wire::ErrorCode::SLOT_ALREADY_RESERVED);
}

// stats: counts per operation and outcome, latency percentiles, in-flight messages.
TEST_P(Server, StatsCountOperationsByOutcomeAndMeasureLatency) {
    const std::uint32_t slot = first_free_slot();
    ASSERT_TRUE(call(book(slot, "19121212-1212")).body_as_BookingReply());
    ASSERT_TRUE(call(book(slot, "19900101-0017")).error());
    const auto& r = call([](auto& b) { return wire::CreateGetStats(b); });
    ASSERT_TRUE(r.body_as_StatsReply());
    const wire::StatsReply& s = *r.body_as_StatsReply();
    std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
    for (const wire::OpCount* c : *s.counts()) {
        counts[{c->operation()->str(), c->outcome()->str()}] = c->count();
    }
    EXPECT_EQ((counts[{"find", "OK"}]), 1u);
    EXPECT_EQ((counts[{"book", "OK"}]), 1u);
    EXPECT_EQ((counts[{"book", "SLOT_ALREADY_RESERVED"}]), 1u);
    EXPECT_EQ(s.messages(), 3u);   // answered before this one
    EXPECT_EQ(s.in_flight(), 1u);  // this stats request itself
    EXPECT_EQ(s.threads(), GetParam());
    EXPECT_GT(s.latency_us_p50(), 0.0);
    EXPECT_LE(s.latency_us_p50(), s.latency_us_p99());
    EXPECT_LE(s.latency_us_p99(), s.latency_us_max() * 1.04);  // buckets are ~3 % wide
}

TEST_P(Server, ARetryWithTheSameRequestIdGetsTheFirstAnswer) {
    const std::uint32_t slot = first_free_slot();
    const std::uint64_t id = client::new_request_id();
    const auto& first = call(book(slot, "19121212-1212"), id);
    ASSERT_TRUE(first.body_as_BookingReply());
    const std::uint64_t booking = first.body_as_BookingReply()->booking()->booking_id();
    const auto& retry = call(book(slot, "19121212-1212"), id);
    ASSERT_TRUE(retry.body_as_BookingReply()) << "a retry must not become a second booking";
    EXPECT_EQ(retry.body_as_BookingReply()->booking()->booking_id(), booking);
    // The same id with other content is refused, not answered with someone else's booking.
    request_.start();
    request_.add(book(slot + 1, "19121212-1212")(request_.fbb()));
    reply_ = connection_->call(request_.finish(web_gateway(), id), id, timeout_ms);
    ASSERT_TRUE(reply_ && reply_->message->error());
    EXPECT_EQ(reply_->message->error()->code(), wire::ErrorCode::INVALID_REQUEST);
    EXPECT_EQ(reply_->message->error()->field()->str(), "request_id");
}

TEST_P(Server, HoldsExpireWithoutAnyRequest) {
    const std::uint32_t slot = first_free_slot();
    const auto& held =
        call([&](auto& b) { return wire::CreateHold(b, slot, b.CreateString("19121212-1212")); });
    ASSERT_TRUE(held.body_as_HoldReply());
    // Move the fixed clock past the hold's TTL (300 s); the server's own sweep frees it.
    const auto& moved = call([](auto& b) {
        return wire::CreateSetClock(b, b.CreateString("2026-03-02T07:06:00+01:00"));
    });
    ASSERT_TRUE(moved.body_as_ClockReply());
    // No request for eight sweep intervals (250 ms each): only the server's own timer can act.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const auto& stats = call([](auto& b) { return wire::CreateGetStats(b); });
    ASSERT_TRUE(stats.body_as_StatsReply());
    EXPECT_EQ(stats.body_as_StatsReply()->holds_expired(), 1u);
}

TEST_P(Server, StopsCleanlyOnSigterm) {
    first_free_slot();
    const int status = server_->stop();
    ASSERT_TRUE(WIFEXITED(status)) << server_->output();
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_NE(server_->output().find("slotmatchd: stopped after"), std::string::npos);
}

// SIGTERM with requests waiting: the server is stopped (SIGSTOP) while 2,000 pipelined requests
// reach it, then gets SIGTERM and SIGCONT together. It must answer every request that had
// arrived before it stops, deliver every answer it counts (the socket lingers), and exit 0.
TEST_P(Server, SigtermAnswersWhatHasArrivedAndEveryAnswerLeaves) {
    first_free_slot();  // message 1
    ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
    constexpr std::size_t pipelined = 2000;
    for (std::size_t i = 0; i < pipelined; ++i) {
        request_.start();
        request_.add(wire::CreateFind(request_.fbb(), request_.fbb().CreateString("u1"),
                                      request_.fbb().CreateString("all3"), 0, 0, 0, 1));
        const std::uint64_t id = 1'000'000 + i;
        ASSERT_TRUE(connection_->send(request_.finish(web_gateway(), id), timeout_ms));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // on their way in over TCP
    ASSERT_EQ(::kill(server_->pid(), SIGTERM), 0);
    ASSERT_EQ(::kill(server_->pid(), SIGCONT), 0);
    std::size_t answered = 0;
    while (auto reply = connection_->receive(2000)) {
        ASSERT_EQ(reply->message->results()->size(), 1u);
        EXPECT_TRUE(reply->message->results()->Get(0)->body_as_SlotList());
        ++answered;
    }
    const int status = server_->stop();  // already stopping: waits for the exit
    ASSERT_TRUE(WIFEXITED(status)) << server_->output();
    EXPECT_EQ(WEXITSTATUS(status), 0);
    const std::string out = server_->output();
    const std::string mark = "slotmatchd: stopped after ";
    const auto at = out.find(mark);
    ASSERT_NE(at, std::string::npos) << out;
    const std::size_t counted = std::stoul(out.substr(at + mark.size()));
    EXPECT_EQ(answered + 1, counted) << "every answer the server counted reaches the client";
    EXPECT_EQ(answered, pipelined) << "the requests that had arrived are answered first";
}

// The start's memory on transparent huge pages (docs/operations.md, "Memory at the start: huge
// pages"): slotmatchd runs itself again once with glibc's malloc tunable, unless the tunable is
// named already, and advises its slot table MADV_HUGEPAGE (smaps: VmFlags "hg").
TEST(HugePages, TheServerRunsWithTheMallocTunableAndItsSlotTableAdvised) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a sanitizer build of slotmatchd does not restart itself for the tunable";
#endif
    const std::string config = write_temp_file("region.yaml", rule_region_yaml);
    const auto environment_of = [](pid_t pid) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
        std::vector<std::string> vars;
        for (std::string var; std::getline(in, var, '\0');) vars.push_back(var);
        return vars;
    };
    const auto has = [](const std::vector<std::string>& vars, const std::string& var) {
        return std::find(vars.begin(), vars.end(), var) != vars.end();
    };
    const auto advised_huge = [](pid_t pid) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("VmFlags:", 0) == 0 && (line + " ").find(" hg ") != std::string::npos) {
                return true;
            }
        }
        return false;
    };
    const std::vector<std::string> args{"--config", config, "--clock",
                                        "fixed:2026-03-02T07:00:00+01:00"};
    ::unsetenv("GLIBC_TUNABLES");
    {
        ServerProcess server(args);
        ASSERT_FALSE(server.endpoint().empty()) << server.output();
        const auto vars = environment_of(server.pid());
        EXPECT_TRUE(has(vars, "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"));
        EXPECT_TRUE(has(vars, "SLOTMATCHD_RESTARTED_FOR_HUGE_PAGES=1"));
        EXPECT_TRUE(advised_huge(server.pid()));
    }
    // Named by the user (=0: 4 KiB pages): started once, as it was.
    ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
    {
        ServerProcess server(args);
        ASSERT_FALSE(server.endpoint().empty()) << server.output();
        const auto vars = environment_of(server.pid());
        EXPECT_TRUE(has(vars, "GLIBC_TUNABLES=glibc.malloc.hugetlb=0"));
        EXPECT_FALSE(has(vars, "SLOTMATCHD_RESTARTED_FOR_HUGE_PAGES=1"));
    }
    ::unsetenv("GLIBC_TUNABLES");
}

INSTANTIATE_TEST_SUITE_P(Threads, Server, ::testing::Values(1u, 2u),
                         [](const auto& info) { return "threads" + std::to_string(info.param); });

}  // namespace
}  // namespace slotmatch::testing
