// A real slotmatchd for end-to-end tests: started as a child process on a free loopback port
// (--listen tcp://127.0.0.1:*), its endpoint read from the "listening on" line it prints, and
// stopped with SIGTERM (SIGKILL after a bounded wait) when the test ends. Nothing is mocked:
// requests cross real ZeroMQ sockets as FlatBuffers bytes.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"

namespace slotmatch::testing {

// Writes `text` to a fresh file under the system temp directory and returns its path.
inline std::string write_temp_file(const std::string& stem, const std::string& text) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("slotmatch-e2e-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    static int counter = 0;
    const auto path = dir / (stem + "-" + std::to_string(++counter));
    std::ofstream(path) << text;
    return path.string();
}

class ServerProcess {
  public:
    // `args` follow the binary: e.g. {"--config", path, "--clock", "fixed:..."}.
    explicit ServerProcess(std::vector<std::string> args) {
        log_ = write_temp_file("slotmatchd-log", "");
        args.insert(args.begin(), SLOTMATCHD_PATH);
        args.push_back("--listen");
        args.push_back("tcp://127.0.0.1:*");
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
            std::freopen(log_.c_str(), "w", stdout);
            std::freopen(log_.c_str(), "a", stderr);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            std::_Exit(127);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (endpoint_.empty() && std::chrono::steady_clock::now() < deadline && alive()) {
            std::ifstream in(log_);
            std::string line;
            while (std::getline(in, line)) {
                const std::string mark = "slotmatchd: listening on ";
                if (line.rfind(mark, 0) == 0) endpoint_ = line.substr(mark.size());
            }
            if (endpoint_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    ~ServerProcess() { stop(); }
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    // "" when the server did not start (see output()).
    const std::string& endpoint() const { return endpoint_; }
    std::string output() const {
        std::ifstream in(log_);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    bool alive() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            status_ = status;
            pid_ = -1;
            return false;
        }
        return true;
    }
    // SIGTERM, then SIGKILL after 10 s; returns the wait status (see WIFEXITED).
    int stop() {
        if (!alive()) return status_;
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (alive() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (alive()) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
            pid_ = -1;
        }
        return status_;
    }

  private:
    pid_t pid_ = -1;
    int status_ = 0;
    std::string log_;
    std::string endpoint_;
};

}  // namespace slotmatch::testing
