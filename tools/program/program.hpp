// What every program does alike: its command line (Boost.Program_options: one way to parse,
// report a bad command line with exit code 2 and the options, and answer --help), and its stop
// signals (SIGINT and SIGTERM set a flag its loop polls).
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>

namespace slotmatch::tools {

// Set by SIGINT and SIGTERM once install_stop_handlers() has run; a program's loop polls it.
inline std::atomic<bool> stop_requested{false};
// Set by SIGHUP once install_reload_handler() has run: reload the key registry.
inline std::atomic<bool> reload_requested{false};

extern "C" inline void on_reload_signal(int) {
    reload_requested.store(true, std::memory_order_relaxed);
}

// Installs the SIGHUP handler and holds SIGHUP back on the calling thread, so that every thread
// it starts from now on is born with SIGHUP blocked (a worker's or the journal link's blocking
// poll is never interrupted by it), and a SIGHUP that comes before serving waits instead of
// ending the process. The thread that polls `reload_requested` lets it in once its threads
// are up (serve(): ServerOptions::reload; slotmatch-journal before its loop).
inline void install_reload_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_reload_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the loop's poll returns and it reloads at once
    sigaction(SIGHUP, &sa, nullptr);
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, nullptr);
}

// Lets SIGHUP in on the calling thread (see install_reload_handler); one held back is
// delivered now.
inline void accept_reload_signal() {
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
}

extern "C" inline void on_stop_signal(int) {
    stop_requested.store(true, std::memory_order_relaxed);
}

inline void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking poll returns EINTR and the loop sees the flag
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // A file-size limit reached (RLIMIT_FSIZE) fails the write with EFBIG, which the store
    // reports and retries like a full disk, instead of killing the process.
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, nullptr);
}

// Without CurveZMQ keys a program may only be reached from this machine.
inline bool loopback_only(const std::string& endpoint) {
    for (const char* prefix :
         {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"}) {
        if (endpoint.rfind(prefix, 0) == 0) return true;
    }
    return false;
}

// The parsed options, or nothing after printing why; `exit_code` is then 0 (--help) or 2.
inline std::optional<boost::program_options::variables_map> parse_command_line(
    int argc, char** argv, const boost::program_options::options_description& options,
    const std::string& program, const std::string& summary, int& exit_code) {
    namespace po = boost::program_options;
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, options), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << program << ": " << e.what() << "\n\n" << options;
        exit_code = 2;
        return std::nullopt;
    }
    if (vm.count("help")) {
        std::cout << program << " — " << summary << "\n\n" << options;
        exit_code = 0;
        return std::nullopt;
    }
    return vm;
}

}  // namespace slotmatch::tools
