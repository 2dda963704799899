// The event store contract on PostgreSQL, against the throwaway server tests/journal/pg/throwaway_pg.sh
// starts (ctest fixture "postgresql"; its URI in the file SLOTMATCH_PG_URL_FILE names). Each
// test gets a database of its own.
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "store_contract.hpp"

namespace slotmatch::journal::contract {
namespace {

std::string admin_uri() {
    const char* file = std::getenv("SLOTMATCH_PG_URL_FILE");
    std::string uri;
    if (file != nullptr) std::getline(std::ifstream(file), uri);
    return uri;
}

void run_sql(const std::string& uri, const std::string& sql) {
    PGconn* db = PQconnectdb(uri.c_str());
    ASSERT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
    PGresult* r = PQexec(db, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << PQerrorMessage(db);
    PQclear(r);
    PQfinish(db);
}

struct PgTraits {
    static std::string fresh_address() {
        const std::string admin = admin_uri();
        if (admin.empty()) {
            ADD_FAILURE() << "no throwaway PostgreSQL: SLOTMATCH_PG_URL_FILE is not set "
                             "(run through ctest, which starts one)";
            return "postgresql://nowhere.invalid/none";
        }
        static int n = 0;
        const std::string name = "store_" + std::to_string(::getpid()) + "_" + std::to_string(++n);
        run_sql(admin, "CREATE DATABASE " + name);
        return admin.substr(0, admin.rfind('/') + 1) + name;
    }
    static void mark_newer_schema(const std::string& address) {
        run_sql(address, "INSERT INTO schema_migrations (version) VALUES (99)");
    }
    static void run_sql(const std::string& address, const std::string& sql) {
        contract::run_sql(address, sql);
    }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Postgresql, StoreContract, PgTraits);

TEST(PgStore, AnUnreachableServerIsRefusedWithTheReason) {
    std::string why;
    EXPECT_FALSE(open_store("postgresql://slotmatch@127.0.0.1:9/none?connect_timeout=2", why));
    EXPECT_NE(why.find("cannot connect"), std::string::npos) << why;
}

// A writer whose connection was cut (its advisory lock went with it) and that gets the lock
// back on reconnecting, after another writer has stored events meanwhile, stays fenced: its
// events are refused, never skipped as already stored (they are not the other's), so nothing is
// acknowledged that the store does not hold. What a standby that took over and then went away
// leaves to a primary that comes back.
TEST(PgStore, AWriterThatLostItsLockToAnotherStaysFencedAfterReconnecting) {
    const std::string address = PgTraits::fresh_address();
    std::string why;
    auto first = open_store(address, why);
    ASSERT_TRUE(first) << why;
    ASSERT_TRUE(first->claim_writer(why)) << why;
    ASSERT_TRUE(first->append(events(1, 5)).ok);
    // Its session ends (a network cut, a server restart): the lock goes with it.
    run_sql(address,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid()");
    {
        auto second = open_store(address, why);
        ASSERT_TRUE(second) << why;
        ASSERT_TRUE(second->claim_writer(why)) << why;
        const auto r = second->append(events(6, 8));
        ASSERT_TRUE(r.ok) << r.error;
    }  // the second goes away too, and with it its lock
    auto mine = events(6, 7);
    mine[0].patient = PatientKey{199001011238};  // not the second writer's events
    // The first try finds the connection gone; the next reconnects, gets the lock, and sees
    // the other's events.
    const auto lost = first->append(mine);
    EXPECT_FALSE(lost.ok);
    EXPECT_EQ(lost.appended, 0u);
    const auto refused = first->append(mine);
    EXPECT_FALSE(refused.ok);
    EXPECT_NE(refused.error.find("fenced: another writer stored events 6..8"), std::string::npos)
        << refused.error;
    EXPECT_EQ(refused.appended, 0u);
    const auto again = first->append(events(9, 9));
    EXPECT_FALSE(again.ok) << "a fenced writer stays fenced";
    EXPECT_NE(again.error.find("fenced"), std::string::npos) << again.error;
    auto reader = open_reader(address, why);
    ASSERT_TRUE(reader) << why;
    EXPECT_EQ(reader->last_seq(), 8u);
}

}  // namespace
}  // namespace slotmatch::journal::contract
