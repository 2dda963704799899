#include "child_process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace slotmatch::process {

using Steady = std::chrono::steady_clock;

ServerProcess::~ServerProcess() {
    const int status = stop();
    if (!killed_ && WIFEXITED(status) && WEXITSTATUS(status) == 0) remove_log();
}

bool ServerProcess::start(const std::string& binary, std::vector<std::string> args,
                          double timeout_s, std::string& why, const std::string& mark) {
    char log_template[] = "/tmp/slotmatchd-child-XXXXXX";
    const int fd = ::mkstemp(log_template);
    if (fd < 0) {
        why = "cannot create a log file under /tmp";
        return false;
    }
    ::close(fd);
    log_ = log_template;
    args.insert(args.begin(), binary);
    pid_ = ::fork();
    if (pid_ < 0) {
        why = "fork failed";
        return false;
    }
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the parent gone: no server left behind
        // Both appending (the file is new and empty, from mkstemp): with stdout at an offset of
        // its own, its lines would overwrite what stderr had written there.
        if (std::freopen(log_.c_str(), "a", stdout) == nullptr ||
            std::freopen(log_.c_str(), "a", stderr) == nullptr) {
            std::_Exit(126);
        }
        std::vector<char*> argv;
        argv.reserve(args.size() + 1);
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    const auto deadline = Steady::now() + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::duration<double>(timeout_s));
    while (endpoint_.empty() && alive() && Steady::now() < deadline) {
        std::ifstream in(log_);
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind(mark, 0) == 0) endpoint_ = line.substr(mark.size());
        }
        if (endpoint_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (endpoint_.empty()) {
        why = alive() ? binary + " did not print its endpoint within " + std::to_string(timeout_s) +
                            " s"
                      : binary + " exited before listening";
        why += "; its output:\n" + output();
        stop();
        remove_log();  // its content is in `why`
        return false;
    }
    return true;
}

std::string ServerProcess::output() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool ServerProcess::alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        pid_ = -1;
        return false;
    }
    return true;
}

int ServerProcess::stop() {
    if (alive()) {
        ::kill(pid_, SIGTERM);
        const auto deadline = Steady::now() + std::chrono::seconds(10);
        while (alive() && Steady::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (alive()) {
            killed_ = true;
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
            pid_ = -1;
        }
    }
    return status_;
}

void ServerProcess::remove_log() {
    std::error_code ignored;
    if (!log_.empty()) std::filesystem::remove(log_, ignored);
    log_.clear();
}

}  // namespace slotmatch::process
