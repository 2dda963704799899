// The embedded journal (slotmatchd --store sqlite:PATH) as a user runs it: a real server, real
// ZeroMQ, a real SQLite file read back by the test while the server runs.
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <algorithm>
#include <map>
#include <set>
#include <slotmatch/patient.hpp>
#include <utility>

#include "e2e/server_process.hpp"
#include "engine_fixture.hpp"
#include "event_store.hpp"
#include "store_events.hpp"

namespace slotmatch::testing {
namespace {

constexpr int timeout_ms = 5000;
constexpr const char* clock_flag = "fixed:2026-03-02T07:00:00+01:00";

client::Identity gateway() {
    return {Channel::web, "1177-gateway", "", "", "journal-test"};
}

// The store, opened read-only next to the running server (WAL lets a reader see every
// committed transaction).
class StoreReader {
  public:
    explicit StoreReader(const std::string& path) {
        EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK)
            << path;
    }
    ~StoreReader() { sqlite3_close(db_); }
    std::int64_t count(const std::string& where = "1") const {
        return value("SELECT count(*) FROM events WHERE " + where);
    }
    // The store's log and audit entries (PATH-entries, tools/journal/README.md) against its
    // events up to `through`: how far the entries have followed, and for the events to
    // `through`, the entries missing or extra (holds, bookings, rebooks, cancellations and
    // reads are audited; web bookings, rebooks and cancellations make log rows).
    std::int64_t followed(const std::string& path) const {
        attach(path);
        return value("SELECT through FROM entries.followed");
    }
    std::int64_t entry_mismatches(const std::string& path, std::int64_t through) const {
        attach(path);
        const auto kinds = [](std::initializer_list<EventKind> list) {
            std::string in;
            for (EventKind k : list) {
                in += (in.empty() ? "" : ",") + std::to_string(static_cast<int>(k));
            }
            return "kind IN (" + in + ")";
        };
        const std::string to = std::to_string(through);
        const std::string audited = "SELECT seq FROM events WHERE seq <= " + to +
                                    " AND patient != 0 AND " +
                                    kinds({EventKind::held, EventKind::booked, EventKind::rebooked,
                                           EventKind::cancelled, EventKind::accessed});
        const std::string logged =
            "SELECT seq FROM events WHERE seq <= " + to +
            " AND channel = " + std::to_string(static_cast<int>(Channel::web)) + " AND " +
            kinds({EventKind::booked, EventKind::rebooked, EventKind::cancelled});
        const auto differ = [&](const std::string& a, const std::string& b) {
            return value("SELECT count(*) FROM (" + a + " EXCEPT " + b + ")") +
                   value("SELECT count(*) FROM (" + b + " EXCEPT " + a + ")");
        };
        return differ(audited, "SELECT seq FROM entries.audit WHERE seq <= " + to) +
               differ(logged, "SELECT seq FROM entries.web_log WHERE seq <= " + to);
    }
    bool has_booking(std::uint64_t booking) const {
        return count("kind = " + std::to_string(static_cast<int>(EventKind::booked)) +
                     " AND booking = " + std::to_string(booking)) == 1;
    }

  private:
    void attach(const std::string& path) const {
        if (value("SELECT count(*) FROM pragma_database_list WHERE name = 'entries'") == 0) {
            sqlite3_exec(db_, ("ATTACH DATABASE '" + path + "-entries' AS entries").c_str(),
                         nullptr, nullptr, nullptr);
        }
    }
    std::int64_t value(const std::string& sql) const {
        sqlite3_stmt* s = nullptr;
        std::int64_t v = -1;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
        return v;
    }
    sqlite3* db_ = nullptr;
};

// A slotmatch-journal process on `endpoint` (tcp://127.0.0.1:* for a free port).
std::unique_ptr<process::ServerProcess> start_journal(const std::string& endpoint,
                                                      const std::string& address) {
    auto journal = std::make_unique<process::ServerProcess>();
    std::string why;
    EXPECT_TRUE(journal->start(SLOTMATCH_JOURNAL_PATH, {"--listen", endpoint, "--store", address},
                               30, why, "slotmatch-journal: listening on "))
        << why;
    return journal;
}

class Journal : public ::testing::Test {
  protected:
    void SetUp() override {
        config_ = write_temp_file("journal-region.yaml", rule_region_yaml);
        // What a start on a new store records first: the region file's units, resources and
        // types, and its schedules as the first publication group (docs/engine.md).
        const auto loaded = load_region_text(rule_region_yaml, "seed");
        const Catalog& c = *loaded.catalog;
        seed_ = c.units.size() + c.resources.size() + c.types.size() + c.schedules.size();
        store_ = write_temp_file("journal.sqlite", "");
        std::filesystem::remove(store_);  // a path for a new store
    }
    // slotmatchd with the embedded journal on `address` (the SQLite store_ when empty).
    void start(const std::string& durability, const std::string& threads = "1",
               const std::string& address = "") {
        server_ = std::make_unique<ServerProcess>(
            std::vector<std::string>{"--config", config_, "--clock", clock_flag, "--store",
                                     address.empty() ? "sqlite:" + store_ : address, "--durability",
                                     durability, "--threads", threads});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
        connection_ = std::make_unique<client::Connection>(server_->endpoint());
    }
    // Free web slots of u1 (type all3).
    std::vector<std::uint32_t> free_slots(std::uint32_t n) {
        client::RequestBuilder r;
        r.start();
        r.add(wire::CreateFind(r.fbb(), r.fbb().CreateString("u1"), r.fbb().CreateString("all3"), 0,
                               0, 0, n));
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(gateway(), id), id, timeout_ms);
        std::vector<std::uint32_t> out;
        if (!reply || !reply->message->results()) return out;
        const auto* list = reply->message->results()->Get(0)->body_as_SlotList();
        if (list == nullptr) return out;
        for (const wire::Slot* s : *list->slots()) out.push_back(s->slot_id());
        return out;
    }
    // Adds a booking of `slot` for patient n to the request.
    static void add_booking(client::RequestBuilder& r, std::uint32_t slot, int n) {
        auto& b = r.fbb();
        const auto p = b.CreateString(format_patient_id(patient(n)));
        wire::BookBuilder book(b);
        book.add_slot(slot);
        book.add_patient(p);
        r.add(book.Finish());
    }
    // Sends a booking of `slot` for patient n; the request id is 1000 + n.
    void send_book(std::uint32_t slot, int n) {
        client::RequestBuilder r;
        r.start();
        add_booking(r, slot, n);
        ASSERT_TRUE(connection_->send(r.finish(gateway(), 1000 + n), timeout_ms));
    }
    // Books slots[0..count) for patients 0..count-1, pipelined, and waits for every reply;
    // the booking ids in the order the replies came (0 for a refusal or a missing reply).
    std::vector<std::uint64_t> book_first(const std::vector<std::uint32_t>& slots, int count) {
        return book_range(slots, 0, count);
    }
    // Books slots[from..to) for patients from..to-1 the same way.
    std::vector<std::uint64_t> book_range(const std::vector<std::uint32_t>& slots, int from,
                                          int to) {
        for (int n = from; n < to; ++n) send_book(slots[static_cast<std::size_t>(n)], n);
        std::vector<std::uint64_t> ids;
        for (int n = from; n < to; ++n) {
            auto reply = connection_->receive(timeout_ms);
            EXPECT_TRUE(reply) << "no reply to booking " << n;
            ids.push_back(reply ? booked_id(*reply) : 0);
        }
        return ids;
    }
    std::uint64_t booked_id(const client::Reply& reply) {
        const auto* r = reply.message->results() ? reply.message->results()->Get(0) : nullptr;
        if (r == nullptr || r->body_as_BookingReply() == nullptr) return 0;
        return r->body_as_BookingReply()->booking()->booking_id();
    }
    // The server's stats: events published and committed.
    std::pair<std::uint64_t, std::uint64_t> events() {
        client::RequestBuilder r;
        r.start();
        r.add(wire::CreateGetStats(r.fbb()));
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(gateway(), id), id, timeout_ms);
        if (!reply || !reply->message->results()) return {0, 0};
        const auto* s = reply->message->results()->Get(0)->body_as_StatsReply();
        if (s == nullptr) return {0, 0};
        return {s->events_published(), s->events_committed()};
    }
    std::string stop_line() {
        const std::string out = server_->output();
        const auto at = out.find("slotmatchd: stopped after");
        return at == std::string::npos ? std::string() : out.substr(at);
    }

    // Every stored event, read back through the store's own contract (either backend).
    std::vector<Event> stored_events(const std::string& address) {
        std::string why;
        auto store = journal::open_store(address, why);
        EXPECT_TRUE(store) << why;
        return store ? journal::contract::all_events(*store) : std::vector<Event>{};
    }

    void kill_nine_scenario(const std::string& address) {
        auto journal = start_journal("tcp://127.0.0.1:*", address);
        ASSERT_FALSE(journal->endpoint().empty());
        const std::string at = journal->endpoint();
        // Pipelined on one connection: room for all of them unanswered at once.
        server_ = std::make_unique<ServerProcess>(
            std::vector<std::string>{"--config", config_, "--clock", clock_flag, "--journal", at,
                                     "--in-flight-per-connection", "8192"});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
        connection_ = std::make_unique<client::Connection>(server_->endpoint());
        // Staff bookings, one request each, pipelined: 2,000 before the kill, 200 after.
        constexpr std::size_t first = 2000, total = 2200;
        auto slots = staff_free_slots();
        ASSERT_GE(slots.size(), total);
        slots.resize(total);
        const auto book = [&](std::size_t n) {
            client::RequestBuilder r;
            r.start();
            add_booking(r, slots[n], static_cast<int>(n));
            ASSERT_TRUE(connection_->send(r.finish(staff(), 5000 + n), timeout_ms));
        };
        std::set<std::uint64_t> bookings;
        // Killed mid-load: after the first ten replies the journal is frozen where it is
        // (SIGSTOP: in a commit, or between two), the second half is sent, and it dies with
        // those in flight. (Killed at once, a fast store had at times committed all 2,000.)
        constexpr std::size_t frozen_at = first / 2;
        for (std::size_t n = 0; n < frozen_at; ++n) book(n);
        for (int n = 0; n < 10; ++n) {
            auto reply = connection_->receive(timeout_ms);
            ASSERT_TRUE(reply);
            bookings.insert(booked_id(*reply));
        }
        ASSERT_EQ(::kill(journal->pid(), SIGSTOP), 0);
        for (std::size_t n = frozen_at; n < first; ++n) book(n);
        ASSERT_EQ(::kill(journal->pid(), SIGKILL), 0);
        journal->stop();  // reaps it
        // Replies already on their way were committed before the kill.
        while (auto reply = connection_->receive(200)) bookings.insert(booked_id(*reply));
        const std::size_t before_restart = bookings.size();
        EXPECT_LE(before_restart, frozen_at) << "acknowledged after the journal was frozen";
        for (std::size_t n = first; n < total; ++n) book(n);
        // Persisted: nothing is acknowledged while the journal is down.
        EXPECT_FALSE(connection_->receive(300)) << "acknowledged while the journal was down";
        journal = start_journal(at, address);
        ASSERT_FALSE(journal->endpoint().empty());
        for (std::size_t k = before_restart; k < total; ++k) {
            auto reply = connection_->receive(timeout_ms);
            ASSERT_TRUE(reply) << "no reply after the journal came back";
            bookings.insert(booked_id(*reply));
        }
        EXPECT_EQ(bookings.size(), total);
        EXPECT_EQ(bookings.count(0), 0u);
        const auto [published, committed] = events();
        EXPECT_EQ(published, seed_ + total);
        EXPECT_EQ(committed, seed_ + total);
        const auto stored = stored_events(address);
        ASSERT_EQ(stored.size(), seed_ + total);  // once each
        std::set<std::uint64_t> stored_bookings;
        for (std::size_t i = 0; i < stored.size(); ++i) {
            EXPECT_EQ(stored[i].seq, i + 1);  // no gap
            if (i >= seed_) stored_bookings.insert(stored[i].booking.value);
        }
        EXPECT_EQ(stored_bookings, bookings);
    }

    void persisted_scenario(const std::string& threads) {
        ASSERT_NO_FATAL_FAILURE(start("persisted", threads));
        const auto slots = free_slots(40);
        ASSERT_EQ(slots.size(), 40u);
        StoreReader store(store_);
        for (int n = 0; n < 40; ++n) send_book(slots[static_cast<std::size_t>(n)], n);
        for (int n = 0; n < 40; ++n) {
            auto reply = connection_->receive(timeout_ms);
            ASSERT_TRUE(reply) << "no reply";
            const std::uint64_t booking = booked_id(*reply);
            ASSERT_NE(booking, 0u) << "booking refused";
            EXPECT_TRUE(store.has_booking(booking)) << "acknowledged before it was durable";
        }
    }

    // Every free slot of u1 from March to December, as staff see them (every type, no window).
    std::vector<std::uint32_t> staff_free_slots() {
        std::vector<std::uint32_t> slots;
        client::RequestBuilder r;
        r.start();
        for (int month = 3; month <= 12; ++month) {
            const std::string from =
                "2026-" + std::string(month < 10 ? "0" : "") + std::to_string(month) + "-01";
            auto& b = r.fbb();
            r.add(wire::CreateFind(b, b.CreateString("u1"), 0, 0, b.CreateString(from),
                                   b.CreateString(from.substr(0, 8) + "28"), 1000));
        }
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
        EXPECT_TRUE(reply && reply->message->results());
        if (!reply || !reply->message->results()) return slots;
        for (const wire::Result* res : *reply->message->results()) {
            EXPECT_TRUE(res->body_as_SlotList());
            if (!res->body_as_SlotList()) continue;
            for (const wire::Slot* sl : *res->body_as_SlotList()->slots()) {
                slots.push_back(sl->slot_id());
            }
        }
        return slots;
    }
    static client::Identity staff() {
        return {Channel::staff, "vgr-abc123", "Karin Lind", "u1", "journal"};
    }
    // The state hash a server printed after `mark` ("slotmatchd: state hash" at a stop,
    // "slotmatchd: recovered" at a start).
    static std::string printed_hash(const std::string& output, const std::string& mark) {
        const auto line = output.find(mark);
        if (line == std::string::npos) return {};
        const auto at = output.find("state hash 0x", line);
        return at == std::string::npos ? std::string() : output.substr(at + 11, 18);
    }
    // Every booking of patients first..first+count-1 that staff of u1 see: slot -> booking id.
    // Fails the test when two bookings share a slot.
    std::map<std::uint32_t, std::uint64_t> bookings_of(int first, int count) {
        std::map<std::uint32_t, std::uint64_t> by_slot;
        for (int start = first; start < first + count; start += 1000) {
            client::RequestBuilder r;
            r.start();
            for (int n = start; n < std::min(first + count, start + 1000); ++n) {
                auto& b = r.fbb();
                r.add(wire::CreateBookings(b, b.CreateString(format_patient_id(patient(n)))));
            }
            const std::uint64_t id = client::new_request_id();
            auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
            EXPECT_TRUE(reply && reply->message->results());
            if (!reply || !reply->message->results()) return by_slot;
            for (const wire::Result* res : *reply->message->results()) {
                EXPECT_TRUE(res->body_as_BookingList());
                if (!res->body_as_BookingList()) continue;
                for (const wire::Booking* bk : *res->body_as_BookingList()->bookings()) {
                    const auto [it, fresh] =
                        by_slot.emplace(bk->slot()->slot_id(), bk->booking_id());
                    EXPECT_TRUE(fresh) << "slot " << it->first << " is booked twice";
                }
            }
        }
        return by_slot;
    }

    // `journal_endpoint` empty: the embedded journal on store_; else a slotmatch-journal there.
    // `address`: the embedded journal's store (store_ when empty).
    // Starts slotmatchd with `args` and expects it to refuse to start (exit 1), saying `says`.
    static void expect_refused_start(std::vector<std::string> args, const std::string& says) {
        ServerProcess server(std::move(args));
        EXPECT_TRUE(server.endpoint().empty());
        const int status = server.stop();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        EXPECT_NE(server.output().find(says), std::string::npos) << server.output();
    }
    void kill_nine_server_scenario(const std::string& threads,
                                   const std::string& journal_endpoint = "",
                                   const std::string& address = "");
    void snapshot_scenario(const std::string& address);
    // slotmatchd persisted, journalled to `address` (embedded) or to the journal at `endpoint`.
    void start_persisted(const std::string& threads, const std::string& endpoint,
                         const std::string& address = "") {
        if (endpoint.empty()) {
            start("persisted", threads, address);
            return;
        }
        server_ = std::make_unique<ServerProcess>(
            std::vector<std::string>{"--config", config_, "--clock", clock_flag, "--journal",
                                     endpoint, "--threads", threads});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
        connection_ = std::make_unique<client::Connection>(server_->endpoint());
    }
    // Books `slot` for patient n through connection_ (30 s, with its failover): the booking's
    // id, or 0.
    std::uint64_t book_slot(std::uint32_t slot, int n) {
        client::RequestBuilder r;
        r.start();
        add_booking(r, slot, n);
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(gateway(), id), id, 30'000);
        return reply ? booked_id(*reply) : 0;
    }
    // Whether a standby said, within 30 s, that it followed the store to event `seq`.
    static bool followed_to(const process::ServerProcess& standby, std::uint64_t seq) {
        const std::string line = "standby: followed the store to event " + std::to_string(seq) + ":";
        for (int waited = 0; waited < 300; ++waited) {
            if (standby.output().find(line) != std::string::npos) return true;
            ::usleep(100'000);
        }
        return false;
    }
    void restart_scenario(const std::string& address);
    void fencing_scenario(bool first_hears_before_restart);
    void stalled_persisted_scenario(const std::string& address);
    // A new database on the throwaway PostgreSQL server that ctest's "postgresql" fixture
    // starts; empty when there is none (the test then skips).
    static std::string fresh_pg_database() {
        const char* file = std::getenv("SLOTMATCH_PG_URL_FILE");
        if (file == nullptr) return {};
        std::string admin;
        std::getline(std::ifstream(file), admin);
        static int counter = 0;
        const std::string name =
            "journal_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
        PGconn* db = PQconnectdb(admin.c_str());
        EXPECT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
        PQclear(PQexec(db, ("CREATE DATABASE " + name).c_str()));
        PQfinish(db);
        return admin.substr(0, admin.rfind('/') + 1) + name;
    }

    std::string config_;
    std::string store_;
    std::unique_ptr<ServerProcess> server_;
    std::size_t seed_ = 0;  // the events a start on a new store records first
    std::unique_ptr<client::Connection> connection_;
};

// Persisted: each acknowledged booking is already in the store at the moment its reply
// arrives (read by another SQLite connection right then), though 40 bookings were pipelined.
TEST_F(Journal, PersistedRepliesLeaveOnlyAfterTheirEventsAreCommitted) {
    persisted_scenario("1");
}

// The same with two worker threads: events come from the workers' own lanes.
TEST_F(Journal, PersistedRepliesLeaveOnlyAfterTheirEventsAreCommittedWithWorkers) {
    persisted_scenario("2");
}

// Applied: replies do not wait; the journal catches up with everything published.
TEST_F(Journal, AppliedModeCommitsEverythingPublished) {
    ASSERT_NO_FATAL_FAILURE(start("applied"));
    const auto slots = free_slots(20);
    ASSERT_EQ(slots.size(), 20u);
    for (int n = 0; n < 20; ++n) send_book(slots[static_cast<std::size_t>(n)], n);
    for (int n = 0; n < 20; ++n) {
        auto reply = connection_->receive(timeout_ms);
        ASSERT_TRUE(reply);
        ASSERT_NE(booked_id(*reply), 0u);
    }
    std::pair<std::uint64_t, std::uint64_t> e;
    for (int i = 0; i < 250; ++i) {  // bounded: 5 s
        e = events();
        if (e.first == seed_ + 20 && e.second == seed_ + 20) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(e.first, seed_ + 20);
    EXPECT_EQ(e.second, seed_ + 20);
    EXPECT_EQ(StoreReader(store_).count(), static_cast<std::int64_t>(seed_ + 20));
}

// SIGTERM: everything published is committed before the process ends.
TEST_F(Journal, AStopCommitsEveryEventFirst) {
    ASSERT_NO_FATAL_FAILURE(start("applied"));
    const auto slots = free_slots(30);
    ASSERT_EQ(slots.size(), 30u);
    book_first(slots, 30);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";
    const int status = server_->stop();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server_->output();
    const std::string all = std::to_string(seed_ + 30);
    EXPECT_NE(stop_line().find(all + " events, " + all + " committed"), std::string::npos)
        << stop_line();
    EXPECT_EQ(StoreReader(store_).count(), static_cast<std::int64_t>(seed_ + 30));
}

// Recovery: a server stopped and started again on its store has the state hash it stopped
// with, keeps its bookings (a booked slot stays taken), and numbers new events after the old.
void Journal::restart_scenario(const std::string& address) {
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    const auto slots = free_slots(40);
    ASSERT_EQ(slots.size(), 40u);
    const std::vector<std::uint64_t> bookings = book_first(slots, 30);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";
    for (std::uint64_t id : bookings) ASSERT_NE(id, 0u);
    client::RequestBuilder r;
    r.start();
    for (int n = 0; n < 10; ++n) r.add(wire::CreateCancel(r.fbb(), bookings[n]));
    for (int n = 30; n < 35; ++n) {
        auto& b = r.fbb();
        r.add(wire::CreateHold(b, slots[static_cast<std::size_t>(n)],
                               b.CreateString(format_patient_id(patient(n)))));
    }
    {
        auto& b = r.fbb();
        r.add(wire::CreateBlock(b, b.CreateString("r2"), b.CreateString("2026-03-03T08:00"),
                                b.CreateString("2026-03-03T09:00"), b.CreateString("utbildning")));
    }
    std::uint64_t id = client::new_request_id();
    auto changed = connection_->call(r.finish(staff(), id), id, timeout_ms);
    ASSERT_TRUE(changed && changed->message->results());
    for (const wire::Result* res : *changed->message->results()) {
        ASSERT_FALSE(res->error()) << res->error()->message()->str();
    }
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    const std::string before = printed_hash(server_->output(), "slotmatchd: state hash");
    ASSERT_FALSE(before.empty()) << server_->output();
    const auto stored = static_cast<std::int64_t>(stored_events(address).size());

    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    EXPECT_EQ(printed_hash(server_->output(), "slotmatchd: recovered"), before)
        << server_->output();
    EXPECT_NE(server_->output().find("recovered " + std::to_string(stored) + " events"),
              std::string::npos)
        << server_->output();
    const auto kept = bookings_of(0, 35);
    EXPECT_EQ(kept.size(), 20u);
    for (int n = 10; n < 30; ++n) {
        const auto it = kept.find(slots[static_cast<std::size_t>(n)]);
        ASSERT_NE(it, kept.end()) << "booking " << n << " lost";
        EXPECT_EQ(it->second, bookings[static_cast<std::size_t>(n)]);
    }
    send_book(slots[15], 99);  // taken by patient 15
    auto refused = connection_->receive(timeout_ms);
    ASSERT_TRUE(refused && refused->message->results());
    ASSERT_TRUE(refused->message->results()->Get(0)->error());
    EXPECT_EQ(refused->message->results()->Get(0)->error()->code(),
              wire::ErrorCode::SLOT_ALREADY_RESERVED);
    send_book(slots[5], 98);  // cancelled before the restart: free
    auto booked = connection_->receive(timeout_ms);
    ASSERT_TRUE(booked);
    EXPECT_NE(booked_id(*booked), 0u);
    // Numbering went on after the stored events (the reads above were audited in between).
    const auto after = stored_events(address);
    ASSERT_GT(static_cast<std::int64_t>(after.size()), stored + 1);
    EXPECT_EQ(after.back().kind, EventKind::booked);
    EXPECT_EQ(after.back().booking.value, booked_id(*booked));
    EXPECT_EQ(after.back().seq, after.size());
    for (std::size_t i = static_cast<std::size_t>(stored); i + 1 < after.size(); ++i) {
        EXPECT_EQ(after[i].kind, EventKind::accessed) << "event " << after[i].seq;
    }
}

TEST_F(Journal, ARestartFromTheStoreHasTheSameStateHash) {
    restart_scenario("sqlite:" + store_);
}

TEST_F(Journal, ARestartFromTheStoreHasTheSameStateHashOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    restart_scenario(address);
}

// The snapshots a store holds, and two ways to spoil them: files beside a SQLite store, rows
// of a PostgreSQL one.
struct SnapshotAccess {
    std::function<std::vector<std::uint64_t>()> seqs;  // ascending
    std::function<void(std::uint64_t)> damage;         // a byte in its middle changed
    std::function<void()> remove_all;
};

SnapshotAccess snapshot_access(const std::string& address) {
    if (address.rfind("sqlite:", 0) == 0) {
        const std::filesystem::path shelf = address.substr(7) + "-snapshots";
        const auto file = [shelf](std::uint64_t seq) {
            char name[40];
            std::snprintf(name, sizeof name, "%020llu.snapshot",
                          static_cast<unsigned long long>(seq));
            return shelf / name;
        };
        return {[shelf] {
                    std::vector<std::uint64_t> seqs;
                    for (const auto& f : std::filesystem::directory_iterator(shelf)) {
                        seqs.push_back(std::stoull(f.path().filename().string()));
                    }
                    std::sort(seqs.begin(), seqs.end());
                    return seqs;
                },
                [file](std::uint64_t seq) {
                    std::fstream f(file(seq), std::ios::in | std::ios::out | std::ios::binary);
                    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(file(seq)) / 2));
                    f.put('\x5a');
                },
                [shelf] { std::filesystem::remove_all(shelf); }};
    }
    const auto sql = [address](const std::string& text) {
        PGconn* db = PQconnectdb(address.c_str());
        EXPECT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
        PGresult* r = PQexec(db, text.c_str());
        EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
            << PQerrorMessage(db);
        std::vector<std::uint64_t> column;
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(r); ++i) column.push_back(std::stoull(PQgetvalue(r, i, 0)));
        }
        PQclear(r);
        PQfinish(db);
        return column;
    };
    return {[sql] { return sql("SELECT seq FROM snapshots ORDER BY seq"); },
            [sql](std::uint64_t seq) {
                sql("UPDATE snapshot_parts SET body = overlay(body placing '\\x5a'::bytea from "
                    "length(body) / 2) WHERE part = 0 AND seq = " +
                    std::to_string(seq));
            },
            [sql] { sql("DELETE FROM snapshot_parts; DELETE FROM snapshots"); }};
}

// Snapshots (issue 14): each clean stop leaves one (the newest two are kept). After kill -9, a
// start reads the newest and only the events after it, and has every acknowledged booking and
// the state hash a replay of every event gives. A damaged newest snapshot is passed over,
// saying so, for the one before it; with none, every event is replayed.
void Journal::snapshot_scenario(const std::string& address) {
    const SnapshotAccess shelf = snapshot_access(address);
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    const auto slots = free_slots(90);
    ASSERT_EQ(slots.size(), 90u);
    std::vector<std::uint64_t> acked = book_range(slots, 0, 30);
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    EXPECT_NE(server_->output().find("slotmatchd: snapshot at event"), std::string::npos)
        << server_->output();
    ASSERT_EQ(shelf.seqs().size(), 1u);
    const std::uint64_t older = shelf.seqs().back();

    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    EXPECT_NE(server_->output().find("and the 0 events after it"), std::string::npos)
        << server_->output();
    for (std::uint64_t id : book_range(slots, 30, 50)) acked.push_back(id);
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    ASSERT_EQ(shelf.seqs().size(), 2u);
    const std::uint64_t newer = shelf.seqs().back();
    ASSERT_GT(newer, older);

    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    for (std::uint64_t id : book_range(slots, 50, 70)) acked.push_back(id);
    for (std::uint64_t id : acked) ASSERT_NE(id, 0u);
    client::RequestBuilder r;
    r.start();
    for (int n = 0; n < 5; ++n) r.add(wire::CreateCancel(r.fbb(), acked[n]));
    const std::uint64_t id = client::new_request_id();
    auto cancelled = connection_->call(r.finish(staff(), id), id, timeout_ms);
    ASSERT_TRUE(cancelled && cancelled->message->results());
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();

    // The newest snapshot and the events after it.
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    std::string out = server_->output();
    EXPECT_NE(out.find("recovering from the snapshot at event " + std::to_string(newer)),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("and the 0 events after it"), std::string::npos) << out;
    const std::string hash = printed_hash(out, "slotmatchd: recovered");
    ASSERT_FALSE(hash.empty()) << out;
    const auto booked = bookings_of(0, 70);
    EXPECT_EQ(booked.size(), 65u);
    for (int n = 5; n < 70; ++n) {
        const auto it = booked.find(slots[static_cast<std::size_t>(n)]);
        ASSERT_NE(it, booked.end()) << "acknowledged booking " << n << " lost";
        EXPECT_EQ(it->second, acked[static_cast<std::size_t>(n)]);
    }
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();

    // A damaged newest snapshot: the one before it, and the same state.
    shelf.damage(newer);
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    out = server_->output();
    EXPECT_NE(out.find("the snapshot at event " + std::to_string(newer)), std::string::npos)
        << out;
    EXPECT_NE(out.find("its checksum does not match"), std::string::npos) << out;
    EXPECT_NE(out.find("recovering from the snapshot at event " + std::to_string(older)),
              std::string::npos)
        << out;
    EXPECT_EQ(printed_hash(out, "slotmatchd: recovered"), hash) << out;
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();

    // No snapshot at all: every event, and the same state.
    shelf.remove_all();
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    out = server_->output();
    EXPECT_EQ(out.find("recovering from the snapshot"), std::string::npos) << out;
    EXPECT_EQ(printed_hash(out, "slotmatchd: recovered"), hash) << out;
}

TEST_F(Journal, KillNineRecoversFromTheNewestSnapshotAndTheEventsAfterIt) {
    snapshot_scenario("sqlite:" + store_);
}

TEST_F(Journal, KillNineRecoversFromTheNewestSnapshotAndTheEventsAfterItOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    snapshot_scenario(address);
}

// kill -9 of slotmatchd under load: two clients book the same 3,000 slots in opposite orders
// (every slot contested), pipelined, and the server is killed once half the requests are
// answered. Started again on its store, it has every acknowledged booking under its id, no slot
// twice, every other slot free (nothing leaked), and the holds acknowledged before the kill.
void Journal::kill_nine_server_scenario(const std::string& threads,
                                        const std::string& journal_endpoint,
                                        const std::string& address) {
    ASSERT_NO_FATAL_FAILURE(start_persisted(threads, journal_endpoint, address));
    auto slots = staff_free_slots();
    ASSERT_GE(slots.size(), 3310u);
    slots.resize(3310);
    constexpr int contested = 3000;
    constexpr std::size_t reserve_first = 3010;  // targets of rebooks made under the load
    std::size_t reserve_next = reserve_first;
    constexpr int holders = 20000;  // patient numbers of the holds
    // Holds on the last ten slots, acknowledged before the load.
    std::vector<std::pair<std::uint64_t, int>> holds;  // hold id, patient
    {
        client::RequestBuilder r;
        r.start();
        for (int n = 0; n < 10; ++n) {
            auto& b = r.fbb();
            r.add(wire::CreateHold(b, slots[contested + static_cast<std::size_t>(n)],
                                   b.CreateString(format_patient_id(patient(holders + n)))));
        }
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
        ASSERT_TRUE(reply && reply->message->results());
        for (int n = 0; n < 10; ++n) {
            const auto* held = reply->message->results()->Get(n)->body_as_HoldReply();
            ASSERT_TRUE(held);
            holds.emplace_back(held->hold_id(), holders + n);
        }
    }
    struct Acked {
        std::uint32_t slot;
        std::uint64_t booking;
    };
    std::vector<Acked> acked;
    std::size_t answered = 0;
    std::vector<std::unique_ptr<client::Connection>> clients;
    for (int c = 0; c < 2; ++c) {
        clients.push_back(std::make_unique<client::Connection>(server_->endpoint()));
    }
    // Client c books slot index i for patient c * 10000 + i under request id i + 1.
    auto slot_of = [&](int c, int i) {
        return slots[static_cast<std::size_t>(c == 0 ? i : contested - 1 - i)];
    };
    std::array<int, 2> sent{0, 0};
    std::array<int, 2> outstanding{0, 0};
    constexpr int window = 64;
    constexpr std::uint64_t rebook_ids = 100000;    // request ids above this are rebooks
    std::map<std::uint64_t, std::uint32_t> moving;  // booking -> target of its unanswered rebook
    while (answered < contested) {                  // half of the 6,000 requests
        for (int c = 0; c < 2; ++c) {
            while (outstanding[c] < window && sent[c] < contested) {
                client::RequestBuilder r;
                r.start();
                add_booking(r, slot_of(c, sent[c]), c * 10000 + sent[c]);
                client::Identity who = staff();
                who.client = c == 0 ? "ascending" : "descending";  // retries are per client
                ASSERT_TRUE(clients[c]->send(r.finish(who, static_cast<std::uint64_t>(sent[c]) + 1),
                                             timeout_ms));
                ++sent[c];
                ++outstanding[c];
            }
            auto reply = clients[c]->receive(timeout_ms);
            ASSERT_TRUE(reply && reply->message->results()) << "no reply under load";
            --outstanding[c];
            ++answered;
            const wire::Result* res = reply->message->results()->Get(0);
            const std::uint64_t request = reply->message->request_id();
            if (const auto* bk = res->body_as_BookingReply(); bk && request > rebook_ids) {
                // An acknowledged rebook: the booking moved to its new slot, under a new id.
                moving.erase(bk->previous());
                for (Acked& a : acked) {
                    if (a.booking == bk->previous()) {
                        a = {bk->booking()->slot()->slot_id(), bk->booking()->booking_id()};
                    }
                }
            } else if (bk) {
                const int i = static_cast<int>(request) - 1;
                EXPECT_EQ(bk->booking()->slot()->slot_id(), slot_of(c, i));
                acked.push_back({slot_of(c, i), bk->booking()->booking_id()});
                // Every tenth of the first client's bookings moves at once to a slot of its own
                // (a rebook frees a slot the other client may be about to book).
                if (c == 0 && i % 10 == 0 && reserve_next < slots.size()) {
                    client::RequestBuilder r;
                    r.start();
                    moving[bk->booking()->booking_id()] = slots[reserve_next];
                    r.add(wire::CreateRebook(r.fbb(), bk->booking()->booking_id(),
                                             slots[reserve_next++]));
                    client::Identity who = staff();
                    who.client = "ascending";
                    ASSERT_TRUE(
                        clients[0]->send(r.finish(who, rebook_ids + reserve_next), timeout_ms));
                    ++outstanding[0];
                }
            } else if (request > rebook_ids) {
                ASSERT_TRUE(res->error());  // the rebook's target taken: the booking stays
            } else {
                ASSERT_TRUE(res->error());
                EXPECT_EQ(res->error()->code(), wire::ErrorCode::SLOT_ALREADY_RESERVED);
            }
        }
    }
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);  // requests are still in flight
    server_->stop();
    ASSERT_GT(acked.size(), 1000u);
    const bool embedded_sqlite = journal_endpoint.empty() && address.empty();
    const std::int64_t stored_at_kill = embedded_sqlite ? StoreReader(store_).count() : 0;

    ASSERT_NO_FATAL_FAILURE(start_persisted(threads, journal_endpoint, address));
    ASSERT_NE(server_->output().find("slotmatchd: recovered"), std::string::npos)
        << server_->output();
    if (embedded_sqlite) {
        // After the crash the log and the audit are complete: the open caught up on every
        // event stored at the kill before the server listened.
        const StoreReader store(store_);
        EXPECT_GE(store.followed(store_), stored_at_kill);
        EXPECT_EQ(store.entry_mismatches(store_, stored_at_kill), 0);
    }
    std::map<std::uint32_t, std::uint64_t> booked = bookings_of(0, contested);
    for (const auto& [slot, booking] : bookings_of(10000, contested)) {
        EXPECT_TRUE(booked.emplace(slot, booking).second) << "slot " << slot << " booked twice";
    }
    for (const Acked& a : acked) {
        const auto it = booked.find(a.slot);
        const auto move = moving.find(a.booking);
        if (it == booked.end() && move != moving.end()) {
            // Its rebook was in flight at the kill: made (and durable) but not answered.
            EXPECT_EQ(booked.count(move->second), 1u) << "booking " << a.booking << " lost";
            continue;
        }
        ASSERT_NE(it, booked.end()) << "acknowledged booking " << a.booking << " lost";
        EXPECT_EQ(it->second, a.booking);
    }
    EXPECT_LE(booked.size(), acked.size() + 2 * window);  // only what was in flight besides
    // Nothing leaked: every contested slot is booked or free, never both or neither.
    const auto free_now = staff_free_slots();
    const std::set<std::uint32_t> free_set(free_now.begin(), free_now.end());
    for (int i = 0; i < contested; ++i) {
        const std::uint32_t s = slots[static_cast<std::size_t>(i)];
        EXPECT_NE(booked.count(s) == 1, free_set.count(s) == 1) << "slot " << s;
    }
    // The holds survived: each can still be booked through.
    client::RequestBuilder r;
    r.start();
    for (const auto& [hold, n] : holds) {
        auto& b = r.fbb();
        const auto p = b.CreateString(format_patient_id(patient(n)));
        wire::BookBuilder book(b);
        book.add_hold(hold);
        book.add_patient(p);
        r.add(book.Finish());
    }
    const std::uint64_t id = client::new_request_id();
    auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
    ASSERT_TRUE(reply && reply->message->results());
    for (const wire::Result* res : *reply->message->results()) {
        EXPECT_TRUE(res->body_as_BookingReply())
            << (res->error() ? res->error()->message()->str() : "");
    }
}

TEST_F(Journal, KillNineOfTheServerLosesNoAcknowledgedBooking) {
    kill_nine_server_scenario("1");
}

TEST_F(Journal, KillNineOfTheServerLosesNoAcknowledgedBookingWithWorkers) {
    kill_nine_server_scenario("2");
}

// The same on PostgreSQL (the embedded journal writing to the throwaway server).
TEST_F(Journal, KillNineOfTheServerLosesNoAcknowledgedBookingOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    kill_nine_server_scenario("2", "", address);
}

// The same with the sidecar: the restarted server recovers through the journal's link.
TEST_F(Journal, KillNineOfTheServerLosesNoAcknowledgedBookingThroughTheSidecar) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    kill_nine_server_scenario("2", journal->endpoint());
}

// Recovery through the sidecar: slotmatchd --journal started again reads the journal's store
// back over the link (replay requests, 4,096 events per answer) and has the state hash it
// stopped with; 5,000 staff bookings make the replay take two answers.
TEST_F(Journal, ARestartThroughTheSidecarRecoversFromTheJournalsStore) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    const std::vector<std::string> args{"--config", config_,     "--clock",
                                        clock_flag, "--journal", journal->endpoint()};
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    auto slots = staff_free_slots();
    ASSERT_GE(slots.size(), 5000u);
    slots.resize(5000);
    for (std::size_t first = 0; first < slots.size(); first += 1000) {
        client::RequestBuilder r;
        r.start();
        for (std::size_t n = first; n < first + 1000; ++n) {
            add_booking(r, slots[n], static_cast<int>(n));
        }
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
        ASSERT_TRUE(reply && reply->message->results());
        for (const wire::Result* res : *reply->message->results()) {
            ASSERT_TRUE(res->body_as_BookingReply());
        }
    }
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    const std::string before = printed_hash(server_->output(), "slotmatchd: state hash");
    ASSERT_FALSE(before.empty()) << server_->output();

    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    EXPECT_NE(server_->output().find("recovered " + std::to_string(seed_ + 5000) +
                                     " events from the journal at"),
              std::string::npos)
        << server_->output();
    EXPECT_EQ(printed_hash(server_->output(), "slotmatchd: recovered"), before);
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    EXPECT_EQ(bookings_of(0, 5000).size(), 5000u);
}

// Snapshots through the sidecar (issue 14): slotmatch-journal makes them of its store (here at
// its clean stop), and a slotmatchd recovering over the link reads the newest and only the
// events after it, with the state hash a replay of every event gives.
TEST_F(Journal, ARestartThroughTheSidecarRecoversFromTheJournalsSnapshot) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    std::vector<std::string> args{"--config", config_,     "--clock",
                                  clock_flag, "--journal", journal->endpoint()};
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    EXPECT_EQ(server_->output().find("recovering from the journal's snapshot"), std::string::npos)
        << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    const auto slots = free_slots(40);
    ASSERT_EQ(slots.size(), 40u);
    book_range(slots, 0, 20);
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    ASSERT_EQ(journal->stop(), 0) << journal->output();
    EXPECT_NE(journal->output().find("slotmatch-journal: snapshot at event"), std::string::npos)
        << journal->output();

    journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    args.back() = journal->endpoint();
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    book_range(slots, 20, 30);  // events after the snapshot
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();

    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    std::string out = server_->output();
    EXPECT_NE(out.find("recovering from the journal's snapshot at event"), std::string::npos)
        << out;
    const std::string hash = printed_hash(out, "slotmatchd: recovered");
    ASSERT_FALSE(hash.empty()) << out;
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    EXPECT_EQ(bookings_of(0, 30).size(), 30u);
    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();

    // The same state from every event: the journal without its snapshots.
    ASSERT_EQ(journal->stop(), 0) << journal->output();
    std::filesystem::remove_all(store_ + "-snapshots");
    journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    args.back() = journal->endpoint();
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    out = server_->output();
    EXPECT_EQ(out.find("recovering from the journal's snapshot"), std::string::npos) << out;
    EXPECT_EQ(printed_hash(out, "slotmatchd: recovered"), hash) << out;
}

// A free loopback endpoint for a server that must be reached before it listens (a standby).
std::string free_loopback_endpoint() {
    zmq::context_t ctx(1);
    zmq::socket_t probe(ctx, zmq::socket_type::router);
    probe.bind("tcp://127.0.0.1:*");
    return probe.get(zmq::sockopt::last_endpoint);
}

// A hot standby on PostgreSQL (issue 14): `slotmatchd --standby` waits, not listening, while
// the primary holds the store's writer lock. kill -9 of the primary frees it; the standby
// recovers, listens, and takes the bookings that a client of both endpoints sends again
// (client::Connection's failover). Every booking the primary acknowledged is there under its
// id, no slot is booked twice, and the old primary that comes back is refused, or waits as a
// standby in its turn.
TEST_F(Journal, AStandbyTakesOverWhenThePrimaryIsKilledOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    const std::string primary = server_->endpoint();
    const std::string standby_endpoint = free_loopback_endpoint();
    const std::vector<std::string> standby_args{"--config", config_,          "--clock",
                                                clock_flag, "--store",        address,
                                                "--standby", "--listen", standby_endpoint};
    process::ServerProcess standby;
    std::string why;
    ASSERT_TRUE(standby.start(SLOTMATCHD_PATH, standby_args, 30, why,
                              "slotmatchd: standby: another slotmatchd holds"))
        << why;
    const auto slots = free_slots(60);
    ASSERT_EQ(slots.size(), 60u);
    connection_ = std::make_unique<client::Connection>(primary + "," + standby_endpoint);
    const auto book_one = [&](int n) { return book_slot(slots[static_cast<std::size_t>(n)], n); };
    std::map<std::uint32_t, std::uint64_t> acked;
    for (int n = 0; n < 40; ++n) {
        const std::uint64_t booking = book_one(n);
        ASSERT_NE(booking, 0u) << "booking " << n;
        acked[slots[static_cast<std::size_t>(n)]] = booking;
    }
    EXPECT_EQ(standby.output().find("taking over"), std::string::npos) << standby.output();
    // It follows the store while it waits: every event the primary committed is folded in
    // before the primary dies (tried every second).
    std::string no_reader;
    const auto reader = journal::open_reader(address, no_reader);
    ASSERT_NE(reader, nullptr) << no_reader;
    ASSERT_TRUE(followed_to(standby, reader->last_seq())) << standby.output();

    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();
    for (int n = 40; n < 50; ++n) {  // through the failover: the standby answers now
        const std::uint64_t booking = book_one(n);
        ASSERT_NE(booking, 0u) << "booking " << n << "\n" << standby.output();
        acked[slots[static_cast<std::size_t>(n)]] = booking;
    }
    // Its head start: the region's slots were laid out while it waited, and kept.
    EXPECT_NE(standby.output().find("standby: laid out the region's first publication ahead: "),
              std::string::npos)
        << standby.output();
    EXPECT_EQ(standby.output().find("ahead: 0 slots"), std::string::npos) << standby.output();
    EXPECT_NE(standby.output().find(" slots were laid out ahead)"), std::string::npos)
        << standby.output();
    EXPECT_NE(standby.output().find("slotmatchd: standby: the store's writer lock is free"),
              std::string::npos)
        << standby.output();
    // Its recovery read none of the events it had followed again.
    EXPECT_NE(standby.output().find("recovering from the events followed up to event " +
                                    std::to_string(reader->last_seq()) + " ("),
              std::string::npos)
        << standby.output();
    EXPECT_NE(standby.output().find(" and the 0 events after it"), std::string::npos)
        << standby.output();
    EXPECT_NE(standby.output().find("slotmatchd: listening on " + standby_endpoint),
              std::string::npos)
        << standby.output();
    const auto booked = bookings_of(0, 60);  // bookings_of: one slot, one booking
    EXPECT_EQ(booked, acked);

    // The old primary comes back: refused while the new one writes, or a standby in its turn.
    expect_refused_start({"--config", config_, "--clock", clock_flag, "--store", address},
                         "one writer per store");
    process::ServerProcess again;
    auto again_args = standby_args;
    again_args.back() = free_loopback_endpoint();
    ASSERT_TRUE(again.start(SLOTMATCHD_PATH, again_args, 30, why,
                            "slotmatchd: standby: another slotmatchd holds"))
        << why;
    ::usleep(300'000);
    EXPECT_EQ(again.output().find("taking over"), std::string::npos) << again.output();
    EXPECT_EQ(book_one(50) != 0, true);  // the new primary goes on
    EXPECT_EQ(again.stop(), 0) << again.output();
}

// A standby whose connection to PostgreSQL is cut (as when the database restarts, or a proxy
// drops it): the store's reads and the writer lock's tries do not come back on their own, so
// it opens the store again, follows on from the newest snapshot, and still takes over when the
// primary is killed, with every booking the primary acknowledged.
TEST_F(Journal, AStandbyWhoseConnectionWasCutFollowsAgainAndTakesOverOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    ASSERT_NO_FATAL_FAILURE(start("persisted", "1", address));
    const std::string primary = server_->endpoint();
    const std::string standby_endpoint = free_loopback_endpoint();
    process::ServerProcess standby;
    std::string why;
    ASSERT_TRUE(standby.start(SLOTMATCHD_PATH,
                              {"--config", config_, "--clock", clock_flag, "--store", address,
                               "--standby", "--listen", standby_endpoint},
                              30, why, "slotmatchd: standby: another slotmatchd holds"))
        << why;
    const auto slots = free_slots(30);
    ASSERT_EQ(slots.size(), 30u);
    connection_ = std::make_unique<client::Connection>(primary + "," + standby_endpoint);
    std::map<std::uint32_t, std::uint64_t> acked;
    const auto book_range = [&](int from, int to) {
        for (int n = from; n < to; ++n) {
            const std::uint64_t booking = book_slot(slots[static_cast<std::size_t>(n)], n);
            ASSERT_NE(booking, 0u) << "booking " << n << "\n" << standby.output();
            acked[slots[static_cast<std::size_t>(n)]] = booking;
        }
    };
    ASSERT_NO_FATAL_FAILURE(book_range(0, 10));
    std::string no_reader;
    auto reader = journal::open_reader(address, no_reader);
    ASSERT_NE(reader, nullptr) << no_reader;
    ASSERT_TRUE(followed_to(standby, reader->last_seq())) << standby.output();

    // Every session of the database that holds no advisory lock ends: the standby's, and the
    // primary's readers (which reconnect before their next query); not the primary's writer.
    PGconn* db = PQconnectdb(address.c_str());
    ASSERT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
    PGresult* cut = PQexec(
        db,
        "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a "
        "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND NOT EXISTS "
        "(SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')");
    ASSERT_EQ(PQresultStatus(cut), PGRES_TUPLES_OK) << PQerrorMessage(db);
    EXPECT_GE(std::stoi(PQgetvalue(cut, 0, 0)), 1);
    PQclear(cut);
    PQfinish(db);

    ASSERT_NO_FATAL_FAILURE(book_range(10, 20));
    reader = journal::open_reader(address, no_reader);
    ASSERT_NE(reader, nullptr) << no_reader;
    ASSERT_TRUE(followed_to(standby, reader->last_seq())) << standby.output();
    EXPECT_NE(standby.output().find("standby: the store's events cannot be followed now: "),
              std::string::npos)
        << standby.output();

    ASSERT_EQ(::kill(server_->pid(), SIGKILL), 0);
    server_->stop();
    ASSERT_NO_FATAL_FAILURE(book_range(20, 30));  // through the failover: the standby answers
    EXPECT_NE(standby.output().find("slotmatchd: listening on " + standby_endpoint),
              std::string::npos)
        << standby.output();
    EXPECT_EQ(bookings_of(0, 30), acked);  // one slot, one booking
}

// Group commit in the sidecar: 200 batches sent back to back by one DEALER (without waiting
// for acknowledgements) are each acknowledged, stored once and in order, in far fewer
// transactions than batches (the journal's stop line counts them).
TEST_F(Journal, TheSidecarCommitsBatchesThatArriveTogetherInFewTransactions) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    zmq::context_t ctx(1);
    zmq::socket_t link(ctx, zmq::socket_type::dealer);
    link.set(zmq::sockopt::linger, 0);
    link.connect(journal->endpoint());
    constexpr int batches = 200;
    constexpr int per_batch = 5;
    flatbuffers::FlatBufferBuilder b;
    for (int n = 0; n < batches; ++n) {
        b.Clear();
        std::vector<flatbuffers::Offset<wire::Event>> events;
        for (int k = 0; k < per_batch; ++k) {
            Event e;
            e.seq = static_cast<std::uint64_t>(n * per_batch + k + 1);
            e.kind = EventKind::booked;
            e.patient = patient(n);
            events.push_back(codec::encode_event(b, e));
        }
        // Every other batch with the identifier all kinds shared before each had its own, as
        // an older slotmatchd sends it: both are read as batches.
        b.Finish(wire::CreateEventBatch(b, b.CreateVector(events)),
                 n % 2 ? codec::request_identifier : codec::event_batch_identifier);
        ASSERT_TRUE(link.send(zmq::buffer(b.GetBufferPointer(), b.GetSize())));
    }
    std::uint64_t committed = 0;
    for (int n = 0; n < batches; ++n) {
        zmq::pollitem_t item{link.handle(), 0, ZMQ_POLLIN, 0};
        ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)), 1);
        zmq::message_t m;
        ASSERT_TRUE(link.recv(m));
        const wire::JournalAck* ack =
            codec::verify_journal_ack({static_cast<const std::uint8_t*>(m.data()), m.size()});
        ASSERT_TRUE(ack);
        EXPECT_FALSE(ack->error()) << ack->error()->str();
        committed = std::max<std::uint64_t>(committed, ack->committed());
    }
    EXPECT_EQ(committed, std::uint64_t{batches * per_batch});
    ASSERT_EQ(journal->stop(), 0);
    const std::string out = journal->output();
    const auto at = out.find("stopped after 200 batches in ");
    ASSERT_NE(at, std::string::npos) << out;
    const int commits = std::stoi(out.substr(at + 29));
    EXPECT_GE(commits, 1);
    EXPECT_LT(commits, batches / 4) << out;
    const auto stored = stored_events("sqlite:" + store_);
    ASSERT_EQ(stored.size(), std::size_t{batches * per_batch});
    for (std::size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i].seq, i + 1);
}

// Fencing: a second slotmatchd started on a journal recovers from it and takes it over; the
// first, still running, is refused from then on, so its next booking is never acknowledged
// and never stored, and the two never number events over each other.
void Journal::fencing_scenario(bool first_hears_before_restart) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    const std::vector<std::string> args{"--config", config_,     "--clock",
                                        clock_flag, "--journal", journal->endpoint()};
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    const auto slots = free_slots(10);
    ASSERT_EQ(slots.size(), 10u);
    book_first(slots, 5);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";

    ServerProcess second(args);
    ASSERT_FALSE(second.endpoint().empty()) << second.output();
    EXPECT_NE(second.output().find("recovered " + std::to_string(seed_ + 5) + " events"),
              std::string::npos)
        << second.output();
    if (first_hears_before_restart) {
        send_book(slots[5], 5);  // to the first, fenced off by now
        EXPECT_FALSE(connection_->receive(700)) << "the fenced server acknowledged a booking";
    }

    client::Connection to_second(second.endpoint());
    client::RequestBuilder r;
    r.start();
    add_booking(r, slots[6], 6);
    const std::uint64_t id = client::new_request_id();
    auto reply = to_second.call(r.finish(gateway(), id), id, timeout_ms);
    ASSERT_TRUE(reply);
    EXPECT_NE(booked_id(*reply), 0u);
    // The second has committed event 6 now; the first's booking, numbered 6 too, must still not
    // be acknowledged (the journal's number counts the second's events, not the first's).
    if (first_hears_before_restart) {
        EXPECT_FALSE(connection_->receive(1500)) << "the fenced server acknowledged a booking";
    }
    // The journal restarts (kill -9) and so forgets who took it over. The first server, asked
    // for a hello again, finds the second's event 6 where its own would be and stays fenced;
    // the second checks what is stored after its acknowledged number and goes on.
    EXPECT_NE(journal->output().find("takes over"), std::string::npos) << journal->output();
    const std::string at = journal->endpoint();
    ASSERT_EQ(::kill(journal->pid(), SIGKILL), 0);
    journal->stop();
    journal = start_journal(at, "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    // Not told before the restart, the first learns it now: its hello-again check finds the
    // second's event 6 after its acknowledged 5.
    if (!first_hears_before_restart) send_book(slots[5], 5);
    client::RequestBuilder again;
    again.start();
    add_booking(again, slots[7], 7);
    const std::uint64_t id2 = client::new_request_id();
    auto reply2 = to_second.call(again.finish(gateway(), id2), id2, 3 * timeout_ms);
    ASSERT_TRUE(reply2) << "the second server got no reply after the journal restarted";
    EXPECT_NE(booked_id(*reply2), 0u);
    EXPECT_FALSE(connection_->receive(1500)) << "the fenced server acknowledged a booking";
    const auto stored = stored_events("sqlite:" + store_);
    ASSERT_EQ(stored.size(), seed_ + 7);
    EXPECT_EQ(stored[seed_ + 5].after.slot.value, slots[6]);  // the second's, not the first's
    EXPECT_EQ(stored[seed_ + 6].after.slot.value, slots[7]);
}

TEST_F(Journal, ASecondServerTakesTheJournalOverAndTheFirstIsFenced) {
    fencing_scenario(true);
}

// The first server sends nothing between the takeover and a journal restart, so only its
// check before saying hello again can tell it that it was fenced.
TEST_F(Journal, AFencedServerThatMissedTheTakeoverStaysFencedAfterAJournalRestart) {
    fencing_scenario(false);
}

// A hello from a server that does not know every stored event (another server wrote after it
// recovered) is refused, and the journal's producer stays the one that is writing.
TEST_F(Journal, AHelloThatMissedStoredEventsDoesNotTakeTheJournalOver) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config", config_, "--clock", clock_flag, "--journal", journal->endpoint()});
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    const auto slots = free_slots(6);
    ASSERT_EQ(slots.size(), 6u);
    book_first(slots, 5);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";

    zmq::context_t ctx(1);
    zmq::socket_t late(ctx, zmq::socket_type::dealer);
    late.set(zmq::sockopt::linger, 0);
    late.connect(journal->endpoint());
    flatbuffers::FlatBufferBuilder b;
    // With the identifier every kind shared before each had its own, as an older slotmatchd
    // sends it: the journal still reads it as a hello.
    b.Finish(wire::CreateEventBatch(b, 0, 0, 12345, 3), codec::request_identifier);
    ASSERT_TRUE(late.send(zmq::buffer(b.GetBufferPointer(), b.GetSize())));
    zmq::pollitem_t item{late.handle(), 0, ZMQ_POLLIN, 0};
    ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)), 1);
    zmq::message_t m;
    ASSERT_TRUE(late.recv(m));
    const wire::JournalAck* ack =
        codec::verify_journal_ack({static_cast<const std::uint8_t*>(m.data()), m.size()});
    ASSERT_TRUE(ack && ack->error());
    EXPECT_NE(ack->error()->str().find("another slotmatchd is writing"), std::string::npos);
    EXPECT_EQ(ack->committed(), seed_ + 5);

    send_book(slots[5], 5);  // the first server is still the journal's producer
    auto reply = connection_->receive(timeout_ms);
    ASSERT_TRUE(reply) << "the writing server was fenced by a refused hello";
    EXPECT_NE(booked_id(*reply), 0u);
    EXPECT_EQ(stored_events("sqlite:" + store_).size(), seed_ + 6);
}

// A journal that is not there: slotmatchd --journal cannot recover, says so, and exits 1.
TEST_F(Journal, NoJournalToRecoverFromIsRefusedAtStart) {
    expect_refused_start(
        {"--config", config_, "--clock", clock_flag, "--journal", "tcp://127.0.0.1:9"},
        "no journal answered");
}

// A full disk, made real with a file-size limit on the running server (prlimit RLIMIT_FSIZE:
// every write past the first byte fails, as on a full file system). Changes are not
// acknowledged while the store cannot commit, reads go on, the failures are counted in stats
// (the stderr line is lost like any write then: the server's log is a file too); once there is
// room again the waiting bookings commit and are answered, nothing lost.
TEST_F(Journal, AFullDiskHoldsAcknowledgementsUntilThereIsRoomAgain) {
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    const auto slots = free_slots(20);
    ASSERT_EQ(slots.size(), 20u);
    book_first(slots, 10);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";
    const rlimit full{1, RLIM_INFINITY};  // the soft limit: anyone may raise it again
    ASSERT_EQ(::prlimit(server_->pid(), RLIMIT_FSIZE, &full, nullptr), 0) << std::strerror(errno);
    for (int n = 10; n < 20; ++n) send_book(slots[static_cast<std::size_t>(n)], n);
    EXPECT_FALSE(connection_->receive(700)) << "acknowledged though the disk is full";
    client::RequestBuilder r;
    r.start();
    r.add(wire::CreateGetStats(r.fbb()));
    std::uint64_t id = client::new_request_id();
    auto stats = connection_->call(r.finish(gateway(), id), id, timeout_ms);
    ASSERT_TRUE(stats) << "reads must go on";
    // Replies to the held bookings may come first; skip to the stats.
    const auto* s = stats->message->results()->Get(0)->body_as_StatsReply();
    ASSERT_TRUE(s);
    EXPECT_GT(s->journal_failed_commits(), 0u);
    EXPECT_EQ(s->events_committed(), seed_ + 10);

    const rlimit room{RLIM_INFINITY, RLIM_INFINITY};
    ASSERT_EQ(::prlimit(server_->pid(), RLIMIT_FSIZE, &room, nullptr), 0);
    std::set<std::uint64_t> booked;
    for (int n = 10; n < 20; ++n) {
        auto reply = connection_->receive(timeout_ms);
        ASSERT_TRUE(reply) << "no reply after the disk had room again";
        booked.insert(booked_id(*reply));
    }
    EXPECT_EQ(booked.size(), 10u);
    EXPECT_EQ(booked.count(0), 0u);
    const StoreReader store(store_);
    const auto stored = static_cast<std::int64_t>(seed_ + 20);
    EXPECT_EQ(store.count(), stored);
    // The log's and the audit's entries, whose writes failed as well, follow again (the
    // follower retries every 200 ms), complete.
    for (int i = 0; i < 250 && store.followed(store_) < stored; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(store.followed(store_), stored);
    EXPECT_EQ(store.entry_mismatches(store_, stored), 0);
}

// One writer per store: a second slotmatchd on the store of a running one is refused at start
// (exit 1, saying why) instead of numbering events over the first one's.
TEST_F(Journal, ASecondServerOnTheSameStoreIsRefused) {
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    expect_refused_start(
        {"--config", config_, "--clock", clock_flag, "--store", "sqlite:" + store_},
        "one writer per store");
    EXPECT_EQ(free_slots(1).size(), 1u);  // the first goes on
}

TEST_F(Journal, ADamagedStoreIsRefusedAtStart) {
    std::ofstream(store_) << std::string(4096, '#');
    expect_refused_start(
        {"--config", config_, "--clock", clock_flag, "--store", "sqlite:" + store_},
        "not a slotmatch store");
}

// A damaged page (here of an index a start does not read) is found by SQLite's check of the
// whole store: at once when a start reads every event, and right after a start from a
// snapshot, which leaves that check (its time grows with the history) to a thread of its own;
// serving goes on, and no more snapshots are made of the damaged store.
TEST_F(Journal, ADamagedPageIsFoundAtStartOrRightAfterAStartFromASnapshot) {
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    const auto slots = free_slots(4);
    ASSERT_EQ(slots.size(), 4u);
    book_first(slots, 3);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";
    ASSERT_EQ(server_->stop(), 0);
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(store_.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_stmt* q = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db,
                                     "SELECT pageno FROM dbstat WHERE name = 'events_entities' "
                                     "ORDER BY pageno LIMIT 1",
                                     -1, &q, nullptr),
                  SQLITE_OK);
        ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
        const std::int64_t page = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        std::fstream f(store_, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>((page - 1) * 4096));
        f.write(std::string(16, '\xff').data(), 16);
    }
    const auto snapshots_before = std::distance(
        std::filesystem::directory_iterator(store_ + "-snapshots"), {});
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    for (int i = 0; i < 200 && server_->output().find("THE STORE IS DAMAGED") == std::string::npos;
         ++i) {
        ::usleep(50'000);
    }
    EXPECT_NE(server_->output().find("THE STORE IS DAMAGED: the store is damaged"),
              std::string::npos)
        << server_->output();
    send_book(slots[3], 3);  // serving goes on
    auto reply = connection_->receive(timeout_ms);
    ASSERT_TRUE(reply);
    EXPECT_NE(booked_id(*reply), 0u);
    ASSERT_EQ(server_->stop(), 0);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(store_ + "-snapshots"), {}),
              snapshots_before);
    EXPECT_EQ(server_->output().find("slotmatchd: snapshot at event"), std::string::npos)
        << server_->output();

    std::filesystem::remove_all(store_ + "-snapshots");
    expect_refused_start(
        {"--config", config_, "--clock", clock_flag, "--store", "sqlite:" + store_},
        "the store is damaged");
}

// A store with one damaged event (its body overwritten, as a torn write or a bad sector would
// leave it) is refused at start, naming the event, and left as it was.
TEST_F(Journal, AStoreWithADamagedEventIsRefusedAtStartNamingIt) {
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    const auto slots = free_slots(3);
    ASSERT_EQ(slots.size(), 3u);
    book_first(slots, 3);
    ASSERT_FALSE(HasFailure()) << "a booking got no reply";
    ASSERT_EQ(server_->stop(), 0);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(store_.c_str(), &db), SQLITE_OK);
    const std::string damaged = std::to_string(seed_ + 2);  // the second booking
    ASSERT_EQ(
        sqlite3_exec(
            db, ("UPDATE events SET body = x'0badf00d0badf00d' WHERE seq = " + damaged).c_str(),
            nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
    // The stop left a snapshot past the damaged event, and a start reads only what follows
    // it: without one, it reads every event.
    std::filesystem::remove_all(store_ + "-snapshots");
    expect_refused_start(
        {"--config", config_, "--clock", clock_flag, "--store", "sqlite:" + store_},
        "event " + damaged + " is damaged");
    EXPECT_EQ(StoreReader(store_).count(), static_cast<std::int64_t>(seed_ + 3));
}

// The sidecar: slotmatchd --journal sends its events to a slotmatch-journal process. The
// journal is killed with SIGKILL while bookings keep coming, then restarted on the same store:
// slotmatchd resends what was not acknowledged, the journal skips what it has, and in the end
// the store holds every event exactly once; in persisted mode no booking was acknowledged
// before it was durable.
TEST_F(Journal, KillNineOfTheJournalLosesAndDuplicatesNothing) {
    kill_nine_scenario("sqlite:" + store_);
}

// The same on PostgreSQL (a throwaway server; ctest runs this with the "postgresql" fixture).
TEST_F(Journal, KillNineOfTheJournalLosesAndDuplicatesNothingOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    kill_nine_scenario(address);
}

// Back-pressure: the journal is stopped (SIGSTOP) while staff book in batches. Once its buffer
// (1,024 events here) and the engine's event lane are full, bookings are refused with
// OVERLOADED and change nothing, while finds go on. When the journal resumes, the backlog
// drains: every booking that was accepted is in the store, once.
TEST_F(Journal, AStalledJournalRefusesChangesWithOverloadedThenCatchesUp) {
    auto journal = start_journal("tcp://127.0.0.1:*", "sqlite:" + store_);
    ASSERT_FALSE(journal->endpoint().empty());
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config", config_, "--clock", clock_flag, "--journal", journal->endpoint(),
        "--durability", "applied", "--journal-buffer-events", "1024"});
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    const client::Identity staff = Journal::staff();
    const std::vector<std::uint32_t> slots = staff_free_slots();
    // The journal's 1,024 and the engine's event lane of 4,096 (one server thread) fill first.
    ASSERT_GT(slots.size(), 1024u + 4096u + 512u) << "too few slots for this test";

    ASSERT_EQ(::kill(journal->pid(), SIGSTOP), 0);
    std::size_t booked = 0, overloaded = 0, next = 0;
    while (overloaded < 300 && next + 256 <= slots.size()) {
        client::RequestBuilder r;
        r.start();
        for (int i = 0; i < 256; ++i, ++next) {
            add_booking(r, slots[next], static_cast<int>(next));
        }
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(staff, id), id, timeout_ms);
        ASSERT_TRUE(reply && reply->message->results()) << "no reply while the journal is stalled";
        for (const wire::Result* res : *reply->message->results()) {
            if (res->body_as_BookingReply()) {
                ++booked;
            } else if (res->error() && res->error()->code() == wire::ErrorCode::OVERLOADED) {
                ++overloaded;
            } else {
                ADD_FAILURE() << "unexpected refusal "
                              << (res->error() ? res->error()->message()->str() : "");
            }
        }
    }
    EXPECT_GE(overloaded, 300u) << "the journal's buffer never pushed back";
    EXPECT_GE(booked, 1024u);
    EXPECT_EQ(free_slots(1).size(), 1u) << "finds must go on while changes are refused";
    const auto [drained_stalled, committed_stalled] = events();
    EXPECT_LE(drained_stalled, seed_ + 1024);  // the start's, and what the buffer holds
    EXPECT_LT(committed_stalled, booked);

    ASSERT_EQ(::kill(journal->pid(), SIGCONT), 0);
    std::pair<std::uint64_t, std::uint64_t> e;
    for (int i = 0; i < 500; ++i) {  // bounded: 10 s
        e = events();
        if (e.second == seed_ + booked) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(e.first, seed_ + booked);
    EXPECT_EQ(e.second, seed_ + booked) << "the backlog did not drain";
    StoreReader store(store_);
    EXPECT_EQ(store.count(), static_cast<std::int64_t>(seed_ + booked));
    EXPECT_EQ(store.count("seq BETWEEN 1 AND " + std::to_string(seed_ + booked)),
              static_cast<std::int64_t>(seed_ + booked));
}

// Back-pressure in persisted mode (the default): with the journal stalled, accepted bookings
// wait for it, and the ones the full buffer refuses come back at once with OVERLOADED (they
// changed nothing and read nothing, so there is nothing to wait for). A retry of a refused
// request under the same id runs again once there is room: refusals for want of room are not
// kept as the answer.
void Journal::stalled_persisted_scenario(const std::string& address) {
    auto journal = start_journal("tcp://127.0.0.1:*", address);
    ASSERT_FALSE(journal->endpoint().empty());
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--config", config_, "--clock", clock_flag, "--journal",
                                 journal->endpoint(), "--journal-buffer-events", "1024",
                                 // the engine's back-pressure, not the connection's bound
                                 "--in-flight-per-connection", "8192"});
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    const std::vector<std::uint32_t> slots = staff_free_slots();
    constexpr int sent = 5600;  // beyond the journal's 1,024 and the lane's 4,096
    ASSERT_GE(slots.size(), static_cast<std::size_t>(sent));
    ASSERT_EQ(::kill(journal->pid(), SIGSTOP), 0);
    for (int n = 0; n < sent; ++n) {
        client::RequestBuilder r;
        r.start();
        add_booking(r, slots[static_cast<std::size_t>(n)], n);
        ASSERT_TRUE(
            connection_->send(r.finish(staff(), static_cast<std::uint64_t>(n) + 1), timeout_ms));
    }
    std::vector<std::uint64_t> refused;  // request ids answered OVERLOADED while stalled
    // The first refusal comes once the buffer and the lanes are full: thousands of bookings in,
    // which under ThreadSanitizer on a busy machine takes seconds; then they come together.
    int wait_ms = 4 * timeout_ms;
    while (auto reply = connection_->receive(std::exchange(wait_ms, 1000))) {
        const wire::Result* res = reply->message->results()->Get(0);
        ASSERT_TRUE(res->error()) << "a booking was acknowledged while the journal was stalled";
        EXPECT_EQ(res->error()->code(), wire::ErrorCode::OVERLOADED);
        refused.push_back(reply->message->request_id());
    }
    ASSERT_FALSE(refused.empty()) << "no OVERLOADED reply while the journal was stalled";
    ASSERT_EQ(::kill(journal->pid(), SIGCONT), 0);
    std::size_t booked = 0;
    for (std::size_t k = 0; k + refused.size() < static_cast<std::size_t>(sent); ++k) {
        auto reply = connection_->receive(3 * timeout_ms);
        ASSERT_TRUE(reply) << "a held booking got no reply after the journal resumed";
        booked += booked_id(*reply) != 0 ? 1 : 0;
    }
    EXPECT_EQ(booked + refused.size(), static_cast<std::size_t>(sent));
    // The same request again, under its id: booked now.
    const int n = static_cast<int>(refused.front()) - 1;
    client::RequestBuilder r;
    r.start();
    add_booking(r, slots[static_cast<std::size_t>(n)], n);
    auto again = connection_->call(r.finish(staff(), refused.front()), refused.front(), timeout_ms);
    ASSERT_TRUE(again);
    EXPECT_NE(booked_id(*again), 0u) << "the retry got the cached refusal";
    EXPECT_EQ(stored_events(address).size(), seed_ + booked + 1);
}

TEST_F(Journal, AStalledJournalAnswersOverloadedAtOnceInPersistedMode) {
    stalled_persisted_scenario("sqlite:" + store_);
}

TEST_F(Journal, AStalledJournalAnswersOverloadedAtOnceInPersistedModeOnPostgresql) {
    const std::string address = fresh_pg_database();
    if (address.empty())
        GTEST_SKIP() << "no throwaway PostgreSQL (run by ctest's Journal.Postgresql)";
    stalled_persisted_scenario(address);
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

// The rule region with the schedule of r1 / all3 ending on `valid_to` instead of 2026-12-31.
std::string region_until(const std::string& valid_to) {
    std::string yaml = rule_region_yaml;
    const auto at = yaml.find("{resource: r1, appointment_type: all3,");
    const auto end = yaml.find("valid_to: 2026-12-31", at);
    yaml.replace(end, std::string("valid_to: 2026-12-31").size(), "valid_to: " + valid_to);
    return yaml;
}

// Issue 11's scenario, as a unit's scheduler meets it: bookings made, slotmatchd stopped, one
// schedule extended by a month in the region file, slotmatchd started again on the same store.
// It starts, says what it changed, and every booking is where it was, under the same slot ids;
// the new days are bookable. Before slot identity it refused the store.
TEST_F(Journal, AScheduleExtendedInTheRegionFileKeepsEveryBookingAcrossARestart) {
    config_ = write_temp_file("journal-region.yaml", region_until("2026-06-30"));
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    const auto slots = staff_free_slots();
    ASSERT_GE(slots.size(), 10u);
    const std::vector<std::uint32_t> chosen(slots.begin(), slots.begin() + 10);
    for (int n = 0; n < 10; ++n) {
        client::RequestBuilder r;
        r.start();
        add_booking(r, chosen[static_cast<std::size_t>(n)], n);
        const std::uint64_t id = client::new_request_id();
        auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
        ASSERT_TRUE(reply);
        ASSERT_NE(booked_id(*reply), 0u);
    }
    const auto before = bookings_of(0, 10);
    ASSERT_EQ(before.size(), 10u);
    ASSERT_EQ(server_->stop(), 0) << server_->output();

    config_ = write_temp_file("journal-region.yaml", region_until("2026-07-31"));
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    EXPECT_NE(server_->output().find("region file: extended schedule 1 (r1 all3 "),
              std::string::npos)
        << server_->output();
    EXPECT_EQ(bookings_of(0, 10), before) << "every booking under its slot id";
    const auto july = free_slots(1000);
    ASSERT_FALSE(july.empty());
    ASSERT_NO_FATAL_FAILURE(server_->stop());

    // And once more with the same file: nothing left to change, same state.
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    EXPECT_EQ(server_->output().find("region file:"), std::string::npos) << server_->output();
    EXPECT_EQ(bookings_of(0, 10), before);
}

// A booked slot's removal is refused: a region file that ends a schedule past a booking stops
// the start (exit 1), naming the booking, and the store is left as it was; with
// --accept-orphans the start goes on and the booking stays.
TEST_F(Journal, AScheduleShortenedPastABookingRefusesTheStartUnlessOrphansAreAccepted) {
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    client::RequestBuilder find;  // a slot of r1 / all3 in September
    find.start();
    auto& fb = find.fbb();
    find.add(wire::CreateFind(fb, fb.CreateString("u1"), fb.CreateString("all3"),
                              fb.CreateString("r1"), fb.CreateString("2026-09-01"), 0, 1));
    const std::uint64_t find_id = client::new_request_id();
    auto found = connection_->call(find.finish(staff(), find_id), find_id, timeout_ms);
    ASSERT_TRUE(found && found->message->results());
    const auto* list = found->message->results()->Get(0)->body_as_SlotList();
    ASSERT_TRUE(list && list->slots() && list->slots()->size() == 1);
    client::RequestBuilder r;
    r.start();
    add_booking(r, list->slots()->Get(0)->slot_id(), 1);
    const std::uint64_t id = client::new_request_id();
    auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
    ASSERT_TRUE(reply);
    const std::uint64_t booking = booked_id(*reply);
    ASSERT_NE(booking, 0u);
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    const auto stored = StoreReader(store_).count();

    config_ = write_temp_file("journal-region.yaml", region_until("2026-06-30"));
    const std::vector<std::string> args{"--config", config_,   "--clock",
                                        clock_flag, "--store", "sqlite:" + store_};
    expect_refused_start(args, "bookings after 2026-06-30: " + std::to_string(booking));
    EXPECT_EQ(StoreReader(store_).count(), stored) << "a refused start changes nothing";

    std::vector<std::string> accepting = args;
    accepting.push_back("--accept-orphans");
    server_ = std::make_unique<ServerProcess>(accepting);
    ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    EXPECT_NE(server_->output().find("region file: ended schedule 1"), std::string::npos)
        << server_->output();
    EXPECT_NE(server_->output().find("as orphans (their slots are no longer offered): " +
                                     std::to_string(booking)),
              std::string::npos)
        << "the start names the orphans, for staff to find: " << server_->output();
    connection_ = std::make_unique<client::Connection>(server_->endpoint());
    const auto kept = bookings_of(1, 1);
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept.begin()->second, booking) << "the orphan stays a booking";
}

// A region file whose changes are refused half way (a schedule extended, then a new one that
// overlaps a schedule staff published live) stops the start, and the store is left as it was:
// the extension made before the refusal is not committed either.
TEST_F(Journal, ARegionFileRefusedHalfWayChangesNothing) {
    config_ = write_temp_file("journal-region.yaml", region_until("2026-06-30"));
    ASSERT_NO_FATAL_FAILURE(start("persisted"));
    client::RequestBuilder r;
    r.start();
    auto& fb = r.fbb();
    const std::vector<flatbuffers::Offset<flatbuffers::String>> saturday{fb.CreateString("sat")};
    r.add(wire::CreatePublishScheduleDirect(fb, "u1", "r1", "all3", &saturday, "09:00", "11:00",
                                            "2026-03-07", "2026-04-25"));
    const std::uint64_t id = client::new_request_id();
    auto reply = connection_->call(r.finish(staff(), id), id, timeout_ms);
    ASSERT_TRUE(reply && reply->message->results());
    ASSERT_NE(reply->message->results()->Get(0)->body_as_ScheduleReply(), nullptr)
        << "the live schedule was published";
    ASSERT_EQ(server_->stop(), 0) << server_->output();
    const auto stored = StoreReader(store_).count();

    std::string yaml = region_until("2026-07-31");  // extended, then an overlapping new one
    const std::string anchor = "          - {resource: r2, appointment_type: all3,";
    yaml.insert(yaml.find(anchor),
                "          - {resource: r1, appointment_type: all3, weekdays: [sat],\n"
                "             from: \"10:00\", to: \"12:00\", valid_from: 2026-03-07, "
                "valid_to: 2026-04-25}\n");
    config_ = write_temp_file("journal-region.yaml", yaml);
    expect_refused_start(
        {"--config", config_, "--clock", clock_flag, "--store", "sqlite:" + store_},
        "cannot be applied");
    EXPECT_EQ(StoreReader(store_).count(), stored) << "a refused start changes nothing";
}

}  // namespace
}  // namespace slotmatch::testing
