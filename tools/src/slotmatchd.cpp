// slotmatchd: the engine server. This build loads and checks a region (--check); serving over
// ZeroMQ arrives with the wire-protocol issue, and until then the program says so and exits 2.
#include <boost/program_options.hpp>
#include <iostream>

#include "cli.hpp"
#include "report.hpp"

namespace po = boost::program_options;
using namespace slotmatch;

int main(int argc, char** argv) {
    po::options_description options("slotmatchd --config region.yaml --check [options]");
    options.add_options()("help,h", "print this help and exit")(
        "config", po::value<std::string>(), "the region config (YAML, see ARCHITECTURE.md)")(
        "check",
        "validate the config, print its lint (R6, R7, R8, R12) and a summary, and exit:\n"
        "0 = loads (warnings allowed), 1 = errors")(
        "clock", po::value<std::string>(), "fixed:ISO8601 — a clock that stands still (tests)");
    int exit_code = 0;
    const auto parsed =
        tools::parse_command_line(argc, argv, options, "slotmatchd",
                                  "the slotmatch engine server. Serving requests (--listen, "
                                  "--store, --journal) is not in this build yet; only --check is",
                                  exit_code);
    if (!parsed) return exit_code;
    const auto& vm = *parsed;
    if (!vm.count("config")) {
        std::cerr << "slotmatchd: --config is required (try --help)\n";
        return 2;
    }
    if (!vm.count("check")) {
        std::cerr << "slotmatchd: this build only checks a region (--check); the ZeroMQ server is "
                     "not built yet\n";
        return 2;
    }
    const std::string path = vm["config"].as<std::string>();
    LoadResult loaded = load_region_file(path);
    std::cout << "Checking " << path << '\n';
    tools::print_diagnostics(std::cout, loaded);
    if (!loaded.ok()) return 1;
    RealClock real;
    FixedClock fixed{Instant{0}};
    const Clock* clock = &real;
    if (vm.count("clock")) {
        std::string why;
        auto t = tools::parse_fixed_clock(Calendar(loaded.catalog->timezone),
                                          vm["clock"].as<std::string>(), why);
        if (!t) {
            std::cerr << "slotmatchd: " << why << '\n';
            return 2;
        }
        fixed.set(*t);
        clock = &fixed;
    }
    Engine engine(std::move(*loaded.catalog), *clock);
    std::cout << '\n';
    tools::print_region_summary(std::cout, engine);
    return 0;
}
