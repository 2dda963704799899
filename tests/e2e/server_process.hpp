// A real slotmatchd for end-to-end tests (process::ServerProcess, tools/process/child_process.hpp):
// a child process on a free loopback port, stopped with SIGTERM when the test ends. Nothing is
// mocked: requests cross real ZeroMQ sockets as FlatBuffers bytes.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "client.hpp"
#include "temp_dir.hpp"

namespace slotmatch::testing {

// Writes `text` to a fresh file in this process's temp directory and returns its path.
inline std::string write_temp_file(const std::string& stem, const std::string& text) {
    static int counter = 0;
    const auto path = process_temp_dir() / (stem + "-" + std::to_string(++counter));
    std::ofstream(path) << text;
    return path.string();
}

class ServerProcess : public process::ServerProcess {
  public:
    // `args` follow the binary: e.g. {"--config", path, "--clock", "fixed:..."}.
    explicit ServerProcess(std::vector<std::string> args) {
        args.push_back("--listen");
        args.push_back("tcp://127.0.0.1:*");
        start(SLOTMATCHD_PATH, std::move(args), start_timeout_s, why_not_started_);
    }
    // What the server printed; when it did not start, why (its output included).
    std::string output() const {
        return log().empty() ? why_not_started_ : process::ServerProcess::output();
    }

  private:
    static constexpr double start_timeout_s = 30;
    std::string why_not_started_;
};

}  // namespace slotmatch::testing
