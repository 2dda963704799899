// Runs the slotmatch CLI binary as a user does (a child process, stdout and stderr collected,
// the exit code kept), bounded in time: a CLI that hangs is killed and reported. Shared by the
// end-to-end tests of the CLI and of the web booking log.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <slotmatch/patient.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine_fixture.hpp"

namespace slotmatch::testing {

constexpr int run_limit_ms = 20'000;  // a CLI run longer than this is a hang

struct CliRun {
    int exit_code = -1;  // -1: killed (see timed_out) or did not exit normally
    bool timed_out = false;
    std::string out, err;
    std::chrono::milliseconds elapsed{0};
};

inline std::ostream& operator<<(std::ostream& os, const CliRun& r) {
    return os << "exit " << r.exit_code << (r.timed_out ? " (killed: hung)" : "") << " after "
              << r.elapsed.count() << " ms\nstdout: " << r.out << "\nstderr: " << r.err;
}

// Runs the CLI binary with `args`, collecting stdout and stderr; SIGKILL after `limit_ms`.
inline CliRun run_cli(const std::vector<std::string>& args, int limit_ms = run_limit_ms) {
    CliRun run;
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2 failed";
        return run;
    }
    std::vector<std::string> argv_text = args;
    argv_text.insert(argv_text.begin(), SLOTMATCH_CLI_PATH);
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto started = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Only async-signal-safe calls here: the test process has ZeroMQ threads.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_pipe[1], STDERR_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (pid < 0) {
        ADD_FAILURE() << "fork failed";
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        return run;
    }
    const auto deadline = started + std::chrono::milliseconds(limit_ms);
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&run.out, &run.err};
    int open_fds = 2;
    while (open_fds > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            run.timed_out = true;
            break;
        }
        if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    int status = 0;
    if (run.timed_out) ::kill(pid, SIGKILL);
    // The pipes are closed when the child exits; the wait after that is short, but bounded.
    while (::waitpid(pid, &status, run.timed_out ? 0 : WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            run.timed_out = true;
            ::kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (auto& f : fds) {
        if (f.fd >= 0) ::close(f.fd);
    }
    run.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (!run.timed_out && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
    return run;
}

// The CLI's arguments, put together from parts.
using Args = std::vector<std::string>;
inline Args concat(std::initializer_list<Args> parts) {
    Args all;
    for (const Args& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
}

// Who acts, as the end-to-end tests' CLI runs name them (the rule region's u1 for staff).
inline const Args as_staff = {"--channel",    "staff",      "--actor",      "vgr-abc123",
                              "--actor-name", "Karin Lind", "--actor-unit", "u1"};
inline const Args as_proxy = {"--channel",    "proxy",        "--actor",
                              "1177-telefon", "--actor-name", "1177 Vårdguiden på telefon"};
inline const Args as_web = {"--channel", "web", "--actor", "1177-gateway"};

inline std::string pnr(int n) {
    return format_patient_id(patient(n));
}

// A JSON object's keys.
inline std::set<std::string> keys(const nlohmann::json& j) {
    std::set<std::string> k;
    if (j.is_object()) {
        for (const auto& [key, value] : j.items()) k.insert(key);
    }
    return k;
}

// stdout as one JSON document (a discarded value when it is not one).
inline nlohmann::json parsed(const CliRun& r) {
    return nlohmann::json::parse(r.out, nullptr, false);
}

// A run that must succeed: exit 0 and one JSON document with "ok": true (an empty object when
// the run failed that, after reporting it).
inline nlohmann::json expect_ok(const CliRun& r) {
    EXPECT_EQ(r.exit_code, 0) << r;
    nlohmann::json j = parsed(r);
    EXPECT_FALSE(j.is_discarded()) << "stdout is not one JSON document: " << r.out;
    EXPECT_TRUE(j.is_object() && j.value("ok", false)) << r;
    return j.is_discarded() ? nlohmann::json::object() : j;
}

// A run that must be refused: exit 1 and a JSON document with an error; the whole document
// (empty when there is no error, after reporting it).
inline nlohmann::json expect_refusal(const CliRun& r) {
    EXPECT_EQ(r.exit_code, 1) << r;
    nlohmann::json j = parsed(r);
    if (j.is_discarded() || !j.contains("error")) {
        ADD_FAILURE() << "a refusal prints JSON with error: " << r;
        return nlohmann::json::object();
    }
    return j;
}

}  // namespace slotmatch::testing
