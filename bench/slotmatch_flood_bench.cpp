// slotmatch_flood_bench: what one flooding client costs another, end to end over loopback with
// CurveZMQ keys (docs/security.md). It starts slotmatchd with --keys and three registered web
// keys: "calm" (the client measured), "flood" (a rate limit from clients.yaml) and "unlimited"
// (a rate too high to matter). Each repetition runs three phases of --duration-s:
//   quiet:      the calm key alone, one find in flight at a time; its latency percentiles
//   flood:      the same, while the flood key sends finds as fast as it can (--window in
//               flight) and gets OVERLOADED beyond its rate
//   unlimited:  the same, while the unlimited key floods just as hard
// and prints each phase's calm p50/p99, the p99 ratios against quiet in the same repetition,
// and the median over repetitions. The flood's refusals are counted, never measured.
//   slotmatch_flood_bench [--config region.yaml] [--repetitions 5] [--duration-s 3]
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench_report.hpp"
#include "child_process.hpp"
#include "client.hpp"
#include "key_files.hpp"
#include "program.hpp"

namespace po = boost::program_options;
using namespace slotmatch;
using namespace slotmatch::bench;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
    std::string config;
    std::string slotmatchd;
    std::string unit;
    int repetitions = 5;
    double duration_s = 3;
    double flood_rate = 2000;  // the flood key's rate in clients.yaml
    std::size_t window = 256;  // the flood's requests in flight
};

struct Phase {
    double p50_us = 0, p99_us = 0;
    std::uint64_t calm = 0;           // the calm key's requests answered
    std::uint64_t flood_served = 0;   // the flooding key's answered requests
    std::uint64_t flood_refused = 0;  // OVERLOADED (its rate)
};

std::span<const std::uint8_t> find_request(client::RequestBuilder& r, const std::string& unit,
                                           std::uint64_t id) {
    r.start();
    r.add(wire::CreateFind(r.fbb(), r.fbb().CreateString(unit), 0, 0, 0, 0, 1));
    return r.finish({}, id);
}

// One phase: the calm key's round trips for `duration_s`, with `flooder` (or nobody) flooding.
Phase run_phase(const std::string& endpoint, const client::CurveKeys& calm_keys,
                const client::CurveKeys* flood_keys, const Options& o) {
    Phase p;
    std::atomic<bool> stop{false};
    std::thread flood;
    std::atomic<std::uint64_t> served{0}, refused{0};
    if (flood_keys) {
        flood = std::thread([&] {
            client::Connection c(endpoint, 100'000, *flood_keys);
            client::RequestBuilder r;
            std::uint64_t id = 1, out = 0;
            while (!stop.load(std::memory_order_relaxed) || out > 0) {
                while (!stop.load(std::memory_order_relaxed) && out < o.window &&
                       c.send(find_request(r, o.unit, id++), 1000)) {
                    ++out;
                }
                auto reply = c.receive(1000);
                if (!reply) break;
                --out;
                const auto* e = reply->message->error();
                (e && e->code() == wire::ErrorCode::OVERLOADED ? refused : served)++;
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the flood under way
    }
    client::Connection c(endpoint, 100'000, calm_keys);
    client::RequestBuilder r;
    std::vector<double> us;
    const auto end = Steady::now() + std::chrono::duration<double>(o.duration_s);
    for (std::uint64_t id = 1; Steady::now() < end; ++id) {
        const auto sent = Steady::now();
        auto reply = c.call(find_request(r, o.unit, id), id, 5000);
        if (!reply || reply->message->error()) {
            std::cerr << "slotmatch_flood_bench: the calm key was not served\n";
            std::exit(1);
        }
        us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - sent).count());
    }
    stop = true;
    if (flood.joinable()) flood.join();
    std::sort(us.begin(), us.end());
    p.p50_us = percentile(us, 0.50);
    p.p99_us = percentile(us, 0.99);
    p.calm = us.size();
    p.flood_served = served;
    p.flood_refused = refused;
    return p;
}

std::optional<Options> command_line(int argc, char** argv, int& exit_code) {
    Options o;
    po::options_description d("slotmatch_flood_bench [options]");
    d.add_options()("help,h", "print this help and exit")(
        "config",
        po::value(&o.config)->default_value(SLOTMATCH_SOURCE_DIR "/tools/region/demo.yaml"),
        "the region slotmatchd serves")(
        "unit", po::value(&o.unit)->default_value("se2321000131-E000000000101"),
        "the unit every find asks about")(
        "slotmatchd", po::value(&o.slotmatchd)->default_value(slotmatchd_beside_this_program()),
        "the slotmatchd binary")("repetitions", po::value(&o.repetitions)->default_value(5),
                                 "repetitions of the three phases")(
        "duration-s", po::value(&o.duration_s)->default_value(3), "seconds per phase")(
        "flood-rate", po::value(&o.flood_rate)->default_value(2000),
        "the flooding key's rate in clients.yaml (requests/s; burst twice that)")(
        "window", po::value(&o.window)->default_value(256), "the flood's requests in flight");
    const auto vm = tools::parse_command_line(
        argc, argv, d, "slotmatch_flood_bench",
        "what one flooding key costs another key's latency, with and without its rate limit",
        exit_code);
    if (!vm) return std::nullopt;
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto o = command_line(argc, argv, exit_code);
    if (!o) return exit_code;
    const auto dir = std::filesystem::temp_directory_path() /
                     ("slotmatch-flood-bench-" + std::to_string(::getpid()));
    std::string why;
    std::map<std::string, keys::KeyPair> pairs;
    for (const char* name : {"server", "calm", "flood", "unlimited"}) {
        pairs[name] = *keys::new_key_pair();
        if (!keys::write_key_pair(dir.string(), name, pairs[name], why)) {
            std::cerr << "slotmatch_flood_bench: " << why << '\n';
            return 1;
        }
    }
    std::ofstream(dir / "clients.yaml")
        << "clients:\n"
        << "  - {key: \"" << pairs["calm"].public_text
        << "\", channel: web, actor: calm, name: Calm, rate: 1000000}\n"
        << "  - {key: \"" << pairs["flood"].public_text
        << "\", channel: web, actor: flood, name: Flood, rate: " << o->flood_rate << "}\n"
        << "  - {key: \"" << pairs["unlimited"].public_text
        << "\", channel: web, actor: unlimited, name: Unlimited, rate: 1000000000}\n";
    process::ServerProcess server;
    if (!server.start(
            o->slotmatchd,
            {"--config", o->config, "--keys", dir.string(), "--listen", "tcp://127.0.0.1:*"}, 60,
            why)) {
        std::cerr << "slotmatch_flood_bench: " << why << '\n';
        return 1;
    }
    const auto keys_of = [&](const char* name) {
        return client::CurveKeys{pairs[name], pairs["server"].public_text};
    };
    const client::CurveKeys calm = keys_of("calm"), flood = keys_of("flood"),
                            unlimited = keys_of("unlimited");
    std::printf("slotmatch_flood_bench: %s, %u CPUs (nproc), %s, load %s\n", cpu_model().c_str(),
                nproc(), kernel().c_str(), load_average().c_str());
    std::printf("server: %s --config %s --keys DIR --listen tcp://127.0.0.1:*  (1 thread)\n",
                o->slotmatchd.c_str(), o->config.c_str());
    std::printf(
        "calm key: one find in flight; flood keys: %zu finds in flight; flood rate %.0f/s; "
        "%d repetitions of %.1f s per phase\n\n",
        o->window, o->flood_rate, o->repetitions, o->duration_s);
    std::printf("%-4s %-10s %10s %10s %10s %12s %12s %10s\n", "rep", "phase", "calm p50",
                "calm p99", "p99 ratio", "flood served", "refused", "calm n");
    std::vector<double> flood_ratio, unlimited_ratio, quiet_p99, flood_p99, unlimited_p99;
    for (int rep = 1; rep <= o->repetitions; ++rep) {
        const Phase q = run_phase(server.endpoint(), calm, nullptr, *o);
        const Phase f = run_phase(server.endpoint(), calm, &flood, *o);
        const Phase u = run_phase(server.endpoint(), calm, &unlimited, *o);
        const auto row = [&](const char* name, const Phase& p) {
            std::printf("%-4d %-10s %8.1f us %8.1f us %10.2f %12llu %12llu %10llu\n", rep, name,
                        p.p50_us, p.p99_us, p.p99_us / q.p99_us,
                        static_cast<unsigned long long>(p.flood_served),
                        static_cast<unsigned long long>(p.flood_refused),
                        static_cast<unsigned long long>(p.calm));
        };
        row("quiet", q);
        row("flood", f);
        row("unlimited", u);
        quiet_p99.push_back(q.p99_us);
        flood_p99.push_back(f.p99_us);
        unlimited_p99.push_back(u.p99_us);
        flood_ratio.push_back(f.p99_us / q.p99_us);
        unlimited_ratio.push_back(u.p99_us / q.p99_us);
    }
    std::printf(
        "\nmedian of %d: calm p99 quiet %.1f us, with a rate-limited flood %.1f us "
        "(ratio %.2f), with an unlimited flood %.1f us (ratio %.2f)\n",
        o->repetitions, median(quiet_p99), median(flood_p99), median(flood_ratio),
        median(unlimited_p99), median(unlimited_ratio));
    server.stop();
    std::filesystem::remove_all(dir);
    return 0;
}
