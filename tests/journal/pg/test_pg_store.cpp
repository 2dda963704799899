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
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(db);
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

}  // namespace
}  // namespace slotmatch::journal::contract
