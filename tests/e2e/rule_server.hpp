// The rule region (engine_fixture.hpp) served by a real slotmatchd on a fresh SQLite store, at
// Monday 2026-03-02 07:00 on a fixed clock, and driven with the real CLI: the fixture of the
// end-to-end suites that administer, restart and kill it (test_admin.cpp, test_waitlist.cpp).
#pragma once

#include "e2e/cli_process.hpp"
#include "e2e/server_process.hpp"

namespace slotmatch::testing {

class RuleServer : public ::testing::Test {
  protected:
    static constexpr const char* clock_flag = "fixed:2026-03-02T07:00:00+01:00";

    void SetUp() override {
        config_ = write_temp_file("rule-region.yaml", rule_region_yaml);
        store_ = write_temp_file("rule-store.sqlite", "");
        std::filesystem::remove(store_);
        start();
    }
    // (Re)starts slotmatchd on the same region file and store.
    void start() {
        server_ = std::make_unique<ServerProcess>(
            Args{"--config", config_, "--clock", clock_flag, "--store", "sqlite:" + store_});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
    }
    CliRun cli(const Args& args) const {
        return run_cli(concat({{"--server", server_->endpoint()}, args}));
    }
    nlohmann::json ok(const Args& args) const { return expect_ok(cli(args)); }

    std::string config_, store_;
    std::unique_ptr<ServerProcess> server_;
};

}  // namespace slotmatch::testing
