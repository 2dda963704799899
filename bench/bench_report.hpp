// What the end-to-end benchmarks share: the machine they ran on (for their reports: a figure is
// only read next to the machine and its load), simple statistics over repetitions, and where the
// build tree keeps slotmatchd. Header-only; used by slotmatch_wire_bench and
// slotmatch_flood_bench.
#pragma once

#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace slotmatch::bench {

inline std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                auto model = line.substr(colon + 1);
                model.erase(0, model.find_first_not_of(" \t"));
                return model;
            }
        }
    }
    return "unknown";
}

// What `nproc` prints: the CPUs this process may run on.
inline unsigned nproc() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
    return std::thread::hardware_concurrency();
}

inline std::string kernel() {
    utsname u{};
    if (uname(&u) != 0) return "unknown";
    return std::string(u.sysname) + ' ' + u.release + ' ' + u.machine;
}

inline std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + ' ' + five + ' ' + fifteen;
}

// Nearest rank; `v` is sorted.
inline double percentile(const std::vector<double>& v, double q) {
    if (v.empty()) return std::nan("");
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

inline double median(std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The default --slotmatchd: ../tools/slotmatchd next to this program (the build tree's layout).
inline std::string slotmatchd_beside_this_program() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return (self.parent_path() / ".." / "tools" / "slotmatchd").lexically_normal();
}

}  // namespace slotmatch::bench
