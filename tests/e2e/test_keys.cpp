// Authenticated channels, end to end (ARCHITECTURE.md, "Keys"; docs/security.md): a real
// slotmatchd started with --keys and bound to every interface (tcp://*), reached through
// 127.0.0.1 by the real CLI and by client-library connections with key pairs from the real
// `slotmatch keygen`. Nothing is mocked: the handshakes are CurveZMQ's, the ZAP handler is the
// server's, and the registry is a clients.yaml on disk that SIGHUP reloads.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "child_process.hpp"
#include "client.hpp"
#include "e2e/cli_process.hpp"
#include "e2e/server_process.hpp"
#include "event_store.hpp"

namespace slotmatch::testing {
namespace {

using json = nlohmann::json;
constexpr const char* clock_flag = "fixed:2026-03-02T07:00:00+01:00";
constexpr int timeout_ms = 5000;
constexpr int silence_ms = 700;  // how long a refused client waits to see that no reply comes

// Who is in clients.yaml, as the tests name them (the rule region's units).
struct Holder {
    const char* name;   // the key files' NAME
    const char* entry;  // the clients.yaml entry without its key
};
const Holder holders[] = {
    {"gateway", "channel: web\n    actor: 1177-gateway\n    name: 1177 Vårdguidens e-tjänster"},
    {"phone", "channel: proxy\n    actor: 1177-telefon\n    name: 1177 Vårdguiden på telefon"},
    {"nurse", "channel: staff\n    actor: vgr-anna01\n    name: Anna Andersson\n    units: [u1]"},
    {"nurse2", "channel: staff\n    actor: vgr-per02\n    name: Per Persson\n    units: [u2]"},
    {"admin",
     "channel: staff\n    actor: vgr-it01\n    name: Regionens IT\n    units: [u1, u2]\n"
     "    roles: [region-admin]"},
    {"leaver", "channel: web\n    actor: old-gateway\n    name: Gamla e-tjänsten"},
    {"trickle",
     "channel: web\n    actor: trickle-gateway\n    name: Droppen\n    rate: 0.5\n"
     "    burst: 40"},
    {"trickle2",
     "channel: web\n    actor: trickle-gateway-2\n    name: Droppen 2\n    rate: 0.5\n"
     "    burst: 40"},
    {"flood",
     "channel: web\n    actor: flood-gateway\n    name: Flödet\n    rate: 40\n"
     "    burst: 40"},
};

class Keys : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::path(write_temp_file("keys", "")).string() + ".d";
        std::filesystem::create_directories(dir_);
        keygen("server");
        keygen("stranger");  // a valid pair that no clients.yaml lists
        for (const Holder& h : holders) keygen(h.name);
        write_clients({});
        config_ = write_temp_file("keys-region.yaml", rule_region_yaml);
        store_ = write_temp_file("keys-store.sqlite", "");
        std::filesystem::remove(store_);
    }

    void keygen(const std::string& name) {
        const json j = expect_ok(run_cli({"keygen", "--out", dir_, "--name", name}));
        public_[name] = j.value("public_key", "");
    }
    // clients.yaml with every holder but those in `left_out`.
    void write_clients(const std::set<std::string>& left_out) {
        std::ofstream out(dir_ + "/clients.yaml", std::ios::trunc);
        out << "clients:\n";
        for (const Holder& h : holders) {
            if (left_out.count(h.name)) continue;
            out << "  - key: \"" << public_[h.name] << "\"\n    " << h.entry << "\n";
        }
    }
    // slotmatchd with --keys on every interface; its endpoint through 127.0.0.1.
    void start_server(const Args& extra = {}) {
        server_ = std::make_unique<process::ServerProcess>();
        std::string why;
        ASSERT_TRUE(
            server_->start(SLOTMATCHD_PATH,
                           concat({{"--config", config_, "--clock", clock_flag, "--store",
                                    "sqlite:" + store_, "--keys", dir_, "--listen", "tcp://*:*"},
                                   extra}),
                           30, why))
            << why;
        const std::string bound = server_->endpoint();  // tcp://0.0.0.0:PORT
        ASSERT_EQ(bound.rfind("tcp://0.0.0.0:", 0), 0u) << bound;
        endpoint_ = "tcp://127.0.0.1:" + bound.substr(bound.rfind(':') + 1);
    }
    client::CurveKeys curve(const std::string& name) const {
        std::string why;
        auto k = client::read_curve_keys(dir_ + "/" + name, dir_ + "/server.pub", why);
        EXPECT_TRUE(k) << why;
        return k.value_or(client::CurveKeys{});
    }
    std::unique_ptr<client::Connection> connect(const std::string& name) const {
        return std::make_unique<client::Connection>(endpoint_, 100'000, curve(name));
    }
    // The CLI under a key; the channel, actor and name come from the key. A generous timeout:
    // under ThreadSanitizer with workers the first call (the catalog, then the command) takes
    // seconds; no test here waits for the CLI to time out.
    CliRun cli(const std::string& name, const Args& args) const {
        return run_cli(concat({{"--server", endpoint_, "--key", dir_ + "/" + name, "--server-key",
                                dir_ + "/server.pub", "--timeout-ms", "10000"},
                               args}));
    }
    json ok(const std::string& name, const Args& args) const { return expect_ok(cli(name, args)); }
    json refused(const std::string& name, const Args& args) const {
        return expect_refusal(cli(name, args))["error"];
    }
    std::uint32_t slot(const char* unit, const char* resource, const char* type,
                       const std::string& iso) const {
        const json j = ok(unit == std::string("u1") ? "nurse" : "nurse2",
                          {"find", "--unit", unit, "--resource", resource, "--type", type, "--from",
                           iso, "--limit", "1"});
        if (!j.contains("slots") || j["slots"].size() != 1) {
            ADD_FAILURE() << "no free slot " << resource << " " << type << " " << iso << ": " << j;
            return 0;
        }
        return j["slots"][0]["slot_id"].get<std::uint32_t>();
    }
    json stats() const { return ok("nurse", {"stats"}); }
    // The access audit of patient n, read by a region-admin's key (every unit's entries) or
    // another key (its unit's, and those that name no unit).
    json audit(int n, const std::string& who = "admin") const {
        return ok(who, {"audit", "--patient", pnr(n), "--actor-unit",
                        who == "nurse2" ? "u2" : "u1"})["entries"];
    }

    std::string dir_, config_, store_, endpoint_;
    std::map<std::string, std::string> public_;
    std::unique_ptr<process::ServerProcess> server_;
};

// A find by `who`, built with the client library.
std::span<const std::uint8_t> find_request(client::RequestBuilder& r, std::uint64_t id) {
    r.start();
    r.add(wire::CreateFind(r.fbb(), r.fbb().CreateString("u1"), 0, 0, 0, 0, 1));
    return r.finish({}, id);
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Garbage over plain TCP: what a port scanner or a confused client sends.
void send_garbage(const std::string& endpoint) {
    const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(static_cast<std::uint16_t>(port));
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
    std::string junk(4096, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 131 + 7);
    (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    char reply[64];
    timeval wait{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    // The server may send its ZMTP greeting, never a slotmatch reply, and closes the connection.
    std::size_t got = 0;
    ssize_t n = 0;
    while ((n = ::recv(fd, reply, sizeof reply, 0)) > 0) got += static_cast<std::size_t>(n);
    // Closed: an orderly end, or a reset (it closed with our junk unread); not a timeout.
    const bool closed = n == 0 || (n < 0 && errno == ECONNRESET);
    EXPECT_TRUE(closed) << "the server kept the connection open (recv: " << std::strerror(errno)
                        << ")";
    EXPECT_LE(got, 64u) << "more than a ZMTP greeting came back";
    ::close(fd);
}

TEST_F(Keys, NoKeyAnUnknownKeyARevokedKeyAndGarbageGetNoReplyWhileAnAuthorisedClientIsServed) {
    start_server();
    auto served = connect("gateway");
    client::RequestBuilder r;
    std::uint64_t id = 1;
    std::uint64_t served_messages = 0;
    const auto serve_one = [&] {
        auto reply = served->call(find_request(r, id), id, timeout_ms);
        ++id;
        ++served_messages;
        ASSERT_TRUE(reply) << "the authorised client was not answered";
        ASSERT_TRUE(reply->message->results());
        EXPECT_FALSE(reply->message->results()->Get(0)->error());
    };
    serve_one();
    // A revoked key: served while listed, on a connection it keeps.
    auto leaver = connect("leaver");
    auto first = leaver->call(find_request(r, 100), 100, timeout_ms);
    ++served_messages;
    ASSERT_TRUE(first) << "a listed key was not answered";

    // No key at all: a plain ZeroMQ client.
    client::Connection plain(endpoint_);
    ASSERT_TRUE(plain.send(find_request(r, 200), timeout_ms));
    EXPECT_FALSE(plain.receive(silence_ms)) << "a client without a key got a reply";
    serve_one();
    // A key pair nobody registered.
    auto stranger = connect("stranger");
    ASSERT_TRUE(stranger->send(find_request(r, 300), timeout_ms));
    EXPECT_FALSE(stranger->receive(silence_ms)) << "an unlisted key got a reply";
    serve_one();
    send_garbage(endpoint_);
    serve_one();

    // Revoke: clients.yaml without the leaver, then SIGHUP.
    write_clients({"leaver"});
    ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
    for (int i = 0; i < 100 && server_->output().find("slotmatchd: reloaded ") == std::string::npos;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_NE(server_->output().find("slotmatchd: reloaded "), std::string::npos)
        << server_->output();
    // On the connection it already has: refused, and nothing ran.
    auto after = leaver->call(find_request(r, 101), 101, timeout_ms);
    ASSERT_TRUE(after);
    ASSERT_TRUE(after->message->error());
    EXPECT_EQ(after->message->error()->code(), wire::ErrorCode::UNAUTHORIZED);
    // A new connection under it: no handshake, no reply.
    auto leaver_again = connect("leaver");
    ASSERT_TRUE(leaver_again->send(find_request(r, 102), timeout_ms));
    EXPECT_FALSE(leaver_again->receive(silence_ms)) << "a revoked key got a reply";
    serve_one();

    // The engine saw the authorised messages only: the counters say so. The gate counts
    // handshakes from the socket's monitor, on a thread of its own: give it a moment.
    // (A stats request counts once answered: each one before the last is among the messages.)
    json s = stats();
    std::uint64_t stats_before = 0;
    for (; stats_before < 40 && s["keys"]["handshakes_failed"].get<int>() < 3; ++stats_before) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        s = stats();
    }
    // The leaver's refused request reached the server's front, not the engine.
    EXPECT_EQ(s["messages"].get<std::uint64_t>(), served_messages + 1 + stats_before) << s;
    EXPECT_EQ(s["operations"].get<std::uint64_t>(), served_messages + stats_before) << s;
    EXPECT_EQ(s["malformed"], 0) << s;
    EXPECT_EQ(s["keys"]["on"], true);
    // No key, the stranger, the leaver again. Bytes that are not ZMTP at all are dropped before
    // any handshake: the socket monitor sees no handshake for them, only the connection closed
    // (send_garbage checks that).
    EXPECT_GE(s["keys"]["handshakes_failed"].get<int>(), 3) << s;
    EXPECT_GE(s["keys"]["keys_refused"].get<int>(), 2) << s;  // stranger, leaver
    EXPECT_EQ(s["keys"]["unlisted_refused"], 1) << s;
    EXPECT_NE(server_->output().find("failed CurveZMQ handshake"), std::string::npos)
        << server_->output();
}

TEST_F(Keys, R17_AStaffKeysBookingShowsTheRegistrysNameAndId) {
    start_server();
    const auto s = slot("u1", "r1", "all3", "2026-03-10T08:00");
    // No --channel, --actor or --actor-name: the key says who acts.
    const json booked = ok("nurse", {"book", "--slot", std::to_string(s), "--patient", pnr(1)});
    EXPECT_EQ(booked["booking"]["channel"], "staff") << booked;
    const std::string changed_by = booked["booking"]["changed_by"];
    EXPECT_NE(changed_by.find("Anna Andersson"), std::string::npos) << changed_by;
    EXPECT_NE(changed_by.find("vgr-anna01"), std::string::npos) << changed_by;
    // A name typed on the command line changes nothing: the registry's stands.
    const auto s2 = slot("u1", "r1", "all3", "2026-03-10T08:20");
    const json typed = ok("nurse", {"book", "--slot", std::to_string(s2), "--patient", pnr(2),
                                    "--channel", "staff", "--actor-name", "Someone Else"});
    EXPECT_EQ(typed["booking"]["changed_by"], changed_by) << typed;
    // Another actor id than the key's is refused.
    const json e = refused("nurse", {"bookings", "--patient", pnr(1), "--actor", "vgr-other"});
    EXPECT_EQ(e["code"], "UNAUTHORIZED");
    EXPECT_EQ(e["field"], "actor");
}

TEST_F(Keys, AStaffKeyOfOneUnitIsRefusedInAnotherAndTheRefusalIsAudited) {
    start_server();
    const auto in_u2 = slot("u2", "r3", "all3b", "2026-03-10T08:00");
    // Acting from a unit the key does not have.
    const json e = refused("nurse", {"book", "--slot", std::to_string(in_u2), "--patient", pnr(3),
                                     "--actor-unit", "u2"});
    EXPECT_EQ(e["code"], "UNAUTHORIZED");
    EXPECT_EQ(e["field"], "actor_unit");
    // Acting from its own unit, on a slot of another: the engine's rule refuses it.
    const json e2 =
        refused("nurse", {"book", "--slot", std::to_string(in_u2), "--patient", pnr(3)});
    EXPECT_EQ(e2["code"], "UNAUTHORIZED") << e2;  // the engine: staff act only in their unit
    EXPECT_EQ(e2["field"], "slot") << e2;
    // Both are on record under the key's actor.
    const json entries = audit(3);
    ASSERT_EQ(entries.size(), 2u) << entries;
    for (const json& a : entries) {
        EXPECT_EQ(a["action"], "book") << a;
        EXPECT_EQ(a["actor"], "vgr-anna01") << a;
        EXPECT_EQ(a["actor_name"], "Anna Andersson") << a;
        EXPECT_EQ(a["channel"], "staff") << a;
    }
    EXPECT_EQ(entries[0]["outcome"], "UNAUTHORIZED");
    EXPECT_EQ(entries[1]["outcome"], e2["code"]);
    // Least privilege: u2's staff see these attempts on their unit's slot; u1's do not.
    EXPECT_EQ(audit(3, "nurse2").size(), 2u);
    EXPECT_EQ(audit(3, "nurse").size(), 0u);
    // u2's own staff key books it.
    ok("nurse2", {"book", "--slot", std::to_string(in_u2), "--patient", pnr(3)});
}

TEST_F(Keys, R8_AProxyKeyBooksOnlyProxyTypesAndTheRefusalIsAudited) {
    start_server();
    const auto plain = slot("u1", "r1", "all3", "2026-03-10T08:00");
    const json e = refused("phone", {"book", "--slot", std::to_string(plain), "--patient", pnr(4)});
    EXPECT_EQ(e["code"], "APPOINTMENT_NOT_ALLOWED");
    const auto ombud = slot("u1", "r1", "ombud", "2026-03-10T11:00");
    const json booked = ok("phone", {"book", "--slot", std::to_string(ombud), "--patient", pnr(4)});
    EXPECT_EQ(booked["booking"]["channel"], "proxy");
    // R3: a proxy cancels only what may be cancelled on the web.
    const auto fixed = slot("u1", "r1", "norecancel", "2026-03-10T10:00");
    const json by_staff =
        ok("nurse", {"book", "--slot", std::to_string(fixed), "--patient", pnr(4)});
    const std::string fixed_id =
        std::to_string(by_staff["booking"]["booking_id"].get<std::uint64_t>());
    EXPECT_EQ(refused("phone", {"cancel", "--booking", fixed_id, "--patient", pnr(4)})["code"],
              "CANCEL_NOT_ALLOWED");
    ok("phone",
       {"cancel", "--booking", std::to_string(booked["booking"]["booking_id"].get<std::uint64_t>()),
        "--patient", pnr(4)});
    // Claiming the staff channel under a proxy key is refused.
    const json as_staff_e =
        refused("phone", {"bookings", "--patient", pnr(4), "--channel", "staff"});
    EXPECT_EQ(as_staff_e["code"], "UNAUTHORIZED");
    const json entries = audit(4);
    ASSERT_GE(entries.size(), 2u) << entries;
    EXPECT_EQ(entries[0]["actor"], "1177-telefon") << entries;
    EXPECT_EQ(entries[0]["outcome"], "APPOINTMENT_NOT_ALLOWED") << entries;
    EXPECT_EQ(entries.back()["outcome"], "UNAUTHORIZED") << entries;
    EXPECT_EQ(entries.back()["actor"], "1177-telefon") << entries;
}

TEST_F(Keys, AWebKeyCannotCancelAnotherCitizensBookingWhichStaysUndisclosed) {
    start_server();
    const auto s = slot("u1", "r1", "all3", "2026-03-10T08:00");
    const json booked = ok("gateway", {"book", "--slot", std::to_string(s), "--patient", pnr(5)});
    const std::string booking =
        std::to_string(booked["booking"]["booking_id"].get<std::uint64_t>());
    // The same key, for another citizen: as if the booking did not exist.
    const json e = refused("gateway", {"cancel", "--booking", booking, "--patient", pnr(6)});
    EXPECT_EQ(e["code"], "BOOKING_NOT_FOUND");
    const json missing = refused("gateway", {"cancel", "--booking", "999999", "--patient", pnr(6)});
    EXPECT_EQ(missing["code"], "BOOKING_NOT_FOUND");
    EXPECT_EQ(e["message"], missing["message"]) << "the refusal tells the two apart";
    // The booking stands; the refusal is in patient 6's audit under the gateway's actor.
    EXPECT_EQ(ok("gateway", {"bookings", "--patient", pnr(5)})["bookings"].size(), 1u);
    const json entries = audit(6);
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(entries[0]["actor"], "1177-gateway") << entries;
    EXPECT_EQ(entries[0]["outcome"], "BOOKING_NOT_FOUND") << entries;
}

TEST_F(Keys, R6_HiddenBookingsNeverLeaveOnWebOrProxyKeys) {
    start_server();
    const auto hidden = slot("u1", "r2", "hidden", "2026-03-10T09:00");
    ok("nurse", {"book", "--slot", std::to_string(hidden), "--patient", pnr(7)});
    EXPECT_EQ(ok("nurse", {"bookings", "--patient", pnr(7)})["bookings"].size(), 1u);
    EXPECT_EQ(ok("gateway", {"bookings", "--patient", pnr(7)})["bookings"].size(), 0u);
    EXPECT_EQ(ok("phone", {"bookings", "--patient", pnr(7)})["bookings"].size(), 0u);
}

TEST_F(Keys, LogAndAuditAreReadOnlyByStaffKeysOfTheUnit) {
    start_server();
    ok("nurse", {"log", "--unit", "u1"});
    EXPECT_EQ(refused("nurse2", {"log", "--unit", "u1"})["code"], "UNAUTHORIZED");
    EXPECT_EQ(refused("gateway", {"log", "--unit", "u1"})["code"], "UNAUTHORIZED");
    EXPECT_EQ(refused("phone", {"audit", "--patient", pnr(1)})["code"], "UNAUTHORIZED");
    EXPECT_EQ(refused("gateway", {"audit", "--patient", pnr(1)})["code"], "UNAUTHORIZED");
    // A role the key does not have.
    EXPECT_EQ(refused("nurse", {"admin", "type", "set", "--type", "ombud", "--web-name", "X",
                                "--role", "region-admin"})["code"],
              "UNAUTHORIZED");
    ok("admin", {"admin", "type", "set", "--type", "ombud", "--web-name", "Bedömning",
                 "--actor-unit", "u1"});
}

TEST_F(Keys, AFloodingKeyGetsOverloadedWhileASecondKeyIsServed) {
    start_server();
    auto flood = connect("flood");
    auto calm = connect("gateway");
    std::atomic<bool> flooding{true};
    std::uint64_t overloaded = 0, answered = 0;
    const auto began = std::chrono::steady_clock::now();
    std::thread flooder([&] {
        // However this thread ends (a failed ASSERT returns), the calm loop stops.
        struct Ended {
            std::atomic<bool>& flag;
            ~Ended() { flag = false; }
        } ended{flooding};
        client::RequestBuilder r;
        constexpr std::uint64_t sent = 400;
        for (std::uint64_t n = 1; n <= sent; ++n) {
            ASSERT_TRUE(flood->send(find_request(r, n), timeout_ms));
        }
        while (overloaded + answered < sent) {
            auto reply = flood->receive(timeout_ms);
            ASSERT_TRUE(reply) << "the flooding key's requests were not all answered";
            const auto* e = reply->message->error();
            if (e && e->code() == wire::ErrorCode::OVERLOADED) {
                ++overloaded;
            } else {
                ++answered;
            }
        }
        flooding = false;
    });
    client::RequestBuilder r;
    int calm_served = 0;
    for (std::uint64_t n = 1; n <= 50 || flooding; ++n) {
        auto reply = calm->call(find_request(r, n), n, timeout_ms);
        ASSERT_TRUE(reply) << "the second key was not served during the flood";
        ASSERT_FALSE(reply->message->error()) << reply->message->error()->message()->str();
        ++calm_served;
    }
    flooder.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    EXPECT_GT(overloaded, 0u);
    // Its burst of 40 and 40 per second since, at most.
    EXPECT_LE(static_cast<double>(answered), 40 + 40 * seconds + 1) << seconds;
    EXPECT_GE(calm_served, 50);
    const json s = stats();
    EXPECT_EQ(s["keys"]["rate_limited"].get<std::uint64_t>(), overloaded) << s;
}

TEST_F(Keys, TheRateCountsOperationsSoBatchingDoesNotMultiplyIt) {
    start_server();
    // rate 0.5 a second, burst 40: what a slow machine's pauses add is far below one batch.
    auto trickle = connect("trickle");
    client::RequestBuilder r;
    const auto batch_of_finds = [&](int n, std::uint64_t id) {
        r.start();
        for (int i = 0; i < n; ++i) {
            r.add(wire::CreateFind(r.fbb(), r.fbb().CreateString("u1"), 0, 0, 0, 0, 1));
        }
        return r.finish({}, id);
    };
    auto first = trickle->call(batch_of_finds(30, 1), 1, timeout_ms);
    ASSERT_TRUE(first);
    ASSERT_FALSE(first->message->error());
    // 10 tokens left: a second batch of 30 is over the rate, where counting messages would
    // have let it (and 38 more) through.
    auto second = trickle->call(batch_of_finds(30, 2), 2, timeout_ms);
    ASSERT_TRUE(second);
    ASSERT_TRUE(second->message->error());
    EXPECT_EQ(second->message->error()->code(), wire::ErrorCode::OVERLOADED);
    // A single operation still fits.
    auto third = trickle->call(find_request(r, 3), 3, timeout_ms);
    ASSERT_TRUE(third);
    EXPECT_FALSE(third->message->error());
    // A batch larger than the burst passes from a full bucket and leaves it in debt: an
    // operation 2.5 s on (1.25 tokens refilled, which the burst alone would have allowed)
    // still waits for the whole batch to be paid (64 - 40 tokens at 0.5 a second).
    auto full = connect("trickle2");
    auto big = full->call(batch_of_finds(64, 4), 4, timeout_ms);
    ASSERT_TRUE(big);
    EXPECT_FALSE(big->message->error());
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto after = full->call(find_request(r, 5), 5, timeout_ms);
    ASSERT_TRUE(after);
    ASSERT_TRUE(after->message->error());
    EXPECT_EQ(after->message->error()->code(), wire::ErrorCode::OVERLOADED);
}

// The same booking request, written by another encoder: another field order, defaults written
// out, no shared vtables, the strings after the tables that point at them.
std::vector<std::uint8_t> book_bytes_other_builder(std::uint32_t slot, const std::string& patient,
                                                   std::uint64_t id, const std::string& client) {
    flatbuffers::FlatBufferBuilder b(64);
    b.ForceDefaults(true);
    b.DedupVtables(false);
    const auto client_text = b.CreateString(client);
    const auto patient_text = b.CreateString(patient);
    wire::BookBuilder book(b);
    book.add_from_waitlist(false);
    book.add_patient(patient_text);
    book.add_slot(slot);
    const auto body = book.Finish();
    const auto op = wire::CreateOp(b, wire::Operation::Book, body.Union());
    const auto ops = b.CreateVector(std::vector{op});
    wire::ActorBuilder actor(b);
    actor.add_channel(wire::Channel::web);
    const auto who = actor.Finish();
    wire::RequestMessageBuilder m(b);
    m.add_ops(ops);
    m.add_actor(who);
    m.add_client(client_text);
    m.add_request_id(id);
    m.add_version(codec::protocol_version);
    b.Finish(m.Finish(), codec::request_identifier);
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

TEST_F(Keys, ARetryEncodedByAnotherBuilderGetsTheFirstAnswer) {
    start_server();
    const auto s = slot("u1", "r1", "all3", "2026-03-10T08:00");
    const auto s2 = slot("u1", "r1", "all3", "2026-03-10T08:20");
    constexpr std::uint64_t id = 4242;
    client::RequestBuilder r;
    r.start();
    r.add(wire::CreateBook(r.fbb(), s, {}, 0, r.fbb().CreateString(pnr(8))));
    const auto ours = r.finish({Channel::web, "", "", "", "gw-1"}, id);
    const std::vector<std::uint8_t> first_bytes(ours.begin(), ours.end());
    const std::vector<std::uint8_t> other = book_bytes_other_builder(s, pnr(8), id, "gw-1");
    ASSERT_NE(first_bytes, other) << "the two encoders wrote the same bytes";

    auto c = connect("gateway");
    auto first = c->call(first_bytes, id, timeout_ms);
    ASSERT_TRUE(first && first->message->results());
    const auto* booked = first->message->results()->Get(0)->body_as_BookingReply();
    ASSERT_TRUE(booked) << "the first booking was refused";
    // The gateway restarted: a new connection, the other encoder's bytes.
    auto again = connect("gateway");
    auto second = again->call(other, id, timeout_ms);
    ASSERT_TRUE(second && second->message->results());
    const auto* rebooked = second->message->results()->Get(0)->body_as_BookingReply();
    ASSERT_TRUE(rebooked) << "the retry was not given the first answer";
    EXPECT_EQ(rebooked->booking()->booking_id(), booked->booking()->booking_id());
    EXPECT_EQ(ok("gateway", {"bookings", "--patient", pnr(8)})["bookings"].size(), 1u);
    EXPECT_EQ(stats()["retries_answered"], 1);
    // Another request under the same id is not a retry.
    const auto changed = book_bytes_other_builder(s2, pnr(8), id, "gw-1");
    auto conflict = again->call(changed, id, timeout_ms);
    ASSERT_TRUE(conflict && conflict->message->error());
    EXPECT_EQ(conflict->message->error()->code(), wire::ErrorCode::INVALID_REQUEST);
    EXPECT_EQ(conflict->message->error()->field()->str(), "request_id");
}

TEST_F(Keys, AClientNameBeyondItsBoundIsRefusedAndChangesNothing) {
    start_server();
    auto c = connect("gateway");
    client::RequestBuilder r;
    r.start();
    r.add(wire::CreateBook(r.fbb(), slot("u1", "r1", "all3", "2026-03-10T08:00"), {}, 0,
                           r.fbb().CreateString(pnr(9))));
    const std::string huge(std::size_t{512} << 10, 'c');
    auto reply = c->call(r.finish({Channel::web, "", "", "", huge}, 77), 77, timeout_ms);
    ASSERT_TRUE(reply && reply->message->error());
    EXPECT_EQ(reply->message->error()->code(), wire::ErrorCode::INVALID_REQUEST);
    EXPECT_EQ(reply->message->error()->field()->str(), "client");
    EXPECT_EQ(ok("gateway", {"bookings", "--patient", pnr(9)})["bookings"].size(), 0u);
}

TEST_F(Keys, AConnectionsUnansweredRequestsAreBounded) {
    // Persisted through a stalled sidecar, reads wait for their audit events: they pile up.
    process::ServerProcess journal;
    std::string why;
    ASSERT_TRUE(journal.start(SLOTMATCH_JOURNAL_PATH,
                              {"--listen", "tcp://127.0.0.1:*", "--store", "sqlite:" + store_}, 30,
                              why, "slotmatch-journal: listening on "))
        << why;
    server_ = std::make_unique<process::ServerProcess>();
    ASSERT_TRUE(server_->start(
        SLOTMATCHD_PATH,
        {"--config", config_, "--clock", clock_flag, "--journal", journal.endpoint(), "--keys",
         dir_, "--listen", "tcp://*:*", "--in-flight-per-connection", "16"},
        30, why))
        << why;
    endpoint_ = "tcp://127.0.0.1:" + server_->endpoint().substr(server_->endpoint().rfind(':') + 1);
    auto c = connect("nurse");
    ASSERT_EQ(::kill(journal.pid(), SIGSTOP), 0);
    client::RequestBuilder r;
    constexpr int sent = 40;
    for (int n = 1; n <= sent; ++n) {
        r.start();
        r.add(wire::CreateBookings(r.fbb(), r.fbb().CreateString(pnr(n))));
        ASSERT_TRUE(c->send(r.finish({}, static_cast<std::uint64_t>(n)), timeout_ms));
    }
    int limited = 0;
    while (auto reply = c->receive(silence_ms)) {
        ASSERT_TRUE(reply->message->error()) << "a read was answered before it was on record";
        EXPECT_EQ(reply->message->error()->code(), wire::ErrorCode::OVERLOADED);
        ++limited;
    }
    EXPECT_EQ(limited, sent - 16);
    ASSERT_EQ(::kill(journal.pid(), SIGCONT), 0);
    int answered = 0;
    while (answered < 16) {
        auto reply = c->receive(timeout_ms);
        ASSERT_TRUE(reply) << "the held reads were not answered once the journal went on";
        EXPECT_FALSE(reply->message->error());
        ++answered;
    }
    EXPECT_EQ(ok("nurse", {"stats"})["keys"]["in_flight_limited"], sent - 16);
}

TEST_F(Keys, TheJournalLinkRefusesAServerWithAnUnlistedKeyAndStoresNothing) {
    // The journal's own folder: its pair, and one slotmatchd key (the "engine" pair).
    const std::string jdir = dir_ + "/journal";
    for (const char* n : {"server", "engine", "rogue", "staffer"}) {
        expect_ok(run_cli({"keygen", "--out", jdir, "--name", n}));
    }
    const auto public_key = [&](const std::string& name) {
        std::ifstream pub(jdir + "/" + name + ".pub");
        std::string key;
        std::getline(pub, key);
        return key;
    };
    // The engine key, and a staff key (which may query, but never send events).
    const auto write_journal_clients = [&](const std::string& staffer_channel) {
        std::ofstream(jdir + "/clients.yaml", std::ios::trunc)
            << "clients:\n  - key: \"" << public_key("engine")
            << "\"\n    channel: engine\n    actor: slotmatchd-1\n  - key: \""
            << public_key("staffer") << "\"\n    channel: " << staffer_channel
            << "\n    actor: vgr-anna01\n"
            << (staffer_channel == "staff" ? "    name: Anna Andersson\n    units: [u1]\n" : "");
    };
    write_journal_clients("staff");
    const std::string jstore = store_ + ".journal";
    process::ServerProcess journal;
    std::string why;
    ASSERT_TRUE(
        journal.start(SLOTMATCH_JOURNAL_PATH,
                      {"--listen", "tcp://*:*", "--store", "sqlite:" + jstore, "--keys", jdir}, 30,
                      why, "slotmatch-journal: listening on "))
        << why;
    const std::string at =
        "tcp://127.0.0.1:" + journal.endpoint().substr(journal.endpoint().rfind(':') + 1);
    // The last event the journal's store holds (0: none), read from the file.
    const auto stored_through = [&]() -> std::uint64_t {
        std::string read_why;
        auto store = slotmatch::journal::open_store("sqlite:" + jstore, read_why);
        EXPECT_TRUE(store) << read_why;
        return store ? store->last_seq() : 0;
    };
    const auto serve_with = [&](const std::string& name) {
        auto server = std::make_unique<ServerProcess>(
            Args{"--config", config_, "--clock", clock_flag, "--journal", at, "--key",
                 jdir + "/" + name, "--journal-server-key", jdir + "/server.pub"});
        return server;
    };
    {
        // Unlisted: the handshake fails, the server cannot start, and nothing is stored.
        auto rogue = serve_with("rogue");
        EXPECT_TRUE(rogue->endpoint().empty()) << rogue->output();
        EXPECT_NE(rogue->output().find("clients.yaml"), std::string::npos) << rogue->output();
        EXPECT_EQ(stored_through(), 0u);
    }
    {
        // A listed staff key is not a slotmatchd's: its events are refused, nothing stored.
        auto staffer = serve_with("staffer");
        EXPECT_TRUE(staffer->endpoint().empty()) << staffer->output();
        EXPECT_NE(journal.output().find("is not a slotmatchd's"), std::string::npos)
            << journal.output();
        EXPECT_EQ(stored_through(), 0u);
    }
    // Listed: it starts and its events are stored.
    auto listed = serve_with("engine");
    ASSERT_FALSE(listed->endpoint().empty()) << listed->output();
    const json booked = expect_ok(
        run_cli(concat({{"--server", listed->endpoint()},
                        as_staff,
                        {"book", "--unit", "u1", "--type", "all3", "--patient", pnr(10)}})));
    EXPECT_EQ(booked["booking"]["channel"], "staff") << booked;
    listed->stop();
    EXPECT_GT(stored_through(), 0u);
    // SIGHUP reloads the journal's clients.yaml: listed as an engine now, that key links.
    write_journal_clients("engine");
    ::kill(journal.pid(), SIGHUP);
    for (int i = 0;
         i < 100 && journal.output().find("slotmatch-journal: reloaded ") == std::string::npos;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_NE(journal.output().find("slotmatch-journal: reloaded "), std::string::npos)
        << journal.output();
    auto promoted = serve_with("staffer");
    EXPECT_FALSE(promoted->endpoint().empty()) << promoted->output() << journal.output();
}

TEST_F(Keys, AClientsYamlWithMistakesIsRefusedAtStartAndOnReloadTheKeysInForceStay) {
    std::ofstream(dir_ + "/clients.yaml")
        << "clients:\n  - key: \"not-a-key\"\n    channel: nurse\n    actor: x\n";
    process::ServerProcess refused_start;
    std::string why;
    EXPECT_FALSE(refused_start.start(
        SLOTMATCHD_PATH,
        {"--config", config_, "--clock", clock_flag, "--keys", dir_, "--listen", "tcp://*:*"}, 10,
        why));
    EXPECT_NE(why.find("clients.yaml:2"), std::string::npos) << why;
    EXPECT_NE(why.find("channel must be web, proxy, staff or engine"), std::string::npos) << why;
    write_clients({});
    start_server();
    // A file yaml-cpp cannot even convert (a list where a field name goes), then a broken one:
    // each is refused, and the server goes on with the keys in force.
    for (const char* bad : {"clients:\n  - ? [a, b]\n    : 1\n", "clients:\n  - key: \"broken\n"}) {
        std::ofstream(dir_ + "/clients.yaml", std::ios::trunc) << bad;
        const std::size_t before = count_of(server_->output(), "not reloaded");
        ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
        for (int i = 0; i < 100 && count_of(server_->output(), "not reloaded") == before; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        EXPECT_EQ(count_of(server_->output(), "not reloaded"), before + 1) << server_->output();
        ASSERT_TRUE(server_->alive()) << server_->output();
    }
    ok("gateway", {"find", "--unit", "u1", "--limit", "1"});
}

TEST_F(Keys, SighupWithWorkerThreadsReloadsAndNothingElse) {
    // With --threads 2 the signal must reach the front thread only: a worker (or the journal
    // link) interrupted in its blocking poll would end the process. Sent to every thread.
    start_server({"--threads", "2"});
    ok("gateway", {"find", "--unit", "u1", "--limit", "1"});
    write_clients({"leaver"});
    const std::string tasks = "/proc/" + std::to_string(server_->pid()) + "/task";
    for (const auto& t : std::filesystem::directory_iterator(tasks)) {
        ::syscall(SYS_tgkill, server_->pid(), std::stoi(t.path().filename().string()), SIGHUP);
    }
    for (int i = 0; i < 100 && server_->output().find("slotmatchd: reloaded ") == std::string::npos;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_NE(server_->output().find("slotmatchd: reloaded "), std::string::npos)
        << server_->output();
    ASSERT_TRUE(server_->alive()) << server_->output();
    // A worker answers with a key holder the reload built while it ran (ThreadSanitizer).
    ok("gateway", {"find", "--unit", "u1", "--limit", "1"});
}

TEST_F(Keys, WithKeysOnlyARegionAdminMovesTheTestClock) {
    start_server();
    const json e = refused("nurse", {"admin", "clock", "--set", "2026-03-05T00:00:00+01:00"});
    EXPECT_EQ(e["code"], "UNAUTHORIZED");
    EXPECT_EQ(refused("gateway", {"admin", "clock", "--set", "2026-03-05T00:00:00+01:00"})["code"],
              "UNAUTHORIZED");
    ok("admin", {"admin", "clock", "--set", "2026-03-05T00:00:00+01:00", "--actor-unit", "u1"});
}

}  // namespace
}  // namespace slotmatch::testing
