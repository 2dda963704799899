// slotmatch_footprint: memory per slot and start-up time for a generated region.
//   slotmatch_footprint --units 1200 --days 60
// Prints, for one run: the slot count, the time to parse and validate the region YAML, the
// time to build the index (schedules → slots, shards, tables), and the resident memory the
// engine added, per slot, and what one copy of the catalog adds (each appointment type added
// live keeps one for the run). Resident memory comes from /proc/self/statm, the copy's size from
// mallinfo2.
#include <malloc.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <slotmatch/config.hpp>
#include <slotmatch/engine.hpp>
#include <sstream>

#include "program.hpp"
#include "region_gen.hpp"

namespace po = boost::program_options;
using namespace slotmatch;

namespace {

double resident_mib() {
    std::ifstream statm("/proc/self/statm");
    long pages_total = 0, pages_resident = 0;
    statm >> pages_total >> pages_resident;
    return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
           (1024.0 * 1024.0);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    tools::RegionSpec spec;
    po::options_description options("slotmatch_footprint [--units N] [--days D] [--seed S]");
    options.add_options()("help,h", "print this help and exit")(
        "units", po::value(&spec.units)->default_value(spec.units), "health centres")(
        "days", po::value(&spec.days)->default_value(spec.days), "days of schedules")(
        "seed", po::value(&spec.seed)->default_value(spec.seed), "generator seed");
    int exit_code = 0;
    const auto parsed = tools::parse_command_line(argc, argv, options, "slotmatch_footprint",
                                                  "memory per slot and start-up time.", exit_code);
    if (!parsed) return exit_code;
    std::ostringstream yaml, progress;
    if (tools::generate_region(spec, yaml, progress) != 0) {
        std::cerr << progress.str();
        return 2;
    }
    std::cerr << "footprint: region generated (" << yaml.str().size() / (1024 * 1024)
              << " MiB of YAML); loading\n";
    auto t0 = std::chrono::steady_clock::now();
    LoadResult loaded = load_region_text(yaml.str(), "generated");
    const double load_s = seconds_since(t0);
    if (!loaded.ok()) {
        std::cerr << "footprint: the generated region does not load\n";
        return 1;
    }
    yaml.str({});
    const double before_mib = resident_mib();
    FixedClock clock(Instant{0});
    t0 = std::chrono::steady_clock::now();
    Engine engine(std::move(*loaded.catalog), clock);
    const double build_s = seconds_since(t0);
    const double after_mib = resident_mib();
    const double slots = static_cast<double>(engine.slot_count());
    std::printf("units %d, days %d, slots %zu\n", spec.units, spec.days, engine.slot_count());
    std::printf("parse+validate YAML: %.2f s\n", load_s);
    std::printf("build index:         %.2f s\n", build_s);
    std::printf("engine resident:     %.0f MiB = %.1f bytes per slot (process total %.0f MiB)\n",
                after_mib - before_mib, (after_mib - before_mib) * 1024.0 * 1024.0 / slots,
                after_mib);
    // Bytes the allocator hands out (glibc's mallinfo2): resident memory would not show a copy
    // made in pages that the YAML text freed.
    const std::size_t before_copy = mallinfo2().uordblks;
    const Catalog copy = engine.catalog();  // what Engine::add_type keeps per addition
    std::printf(
        "catalog copy:        %.1f MiB allocated (%zu resources, %zu types, %zu "
        "schedules)\n",
        static_cast<double>(mallinfo2().uordblks - before_copy) / (1024.0 * 1024.0),
        copy.resources.size(), copy.types.size(), copy.schedules.size());
    return 0;
}
