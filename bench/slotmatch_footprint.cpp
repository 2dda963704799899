// slotmatch_footprint: memory per slot and start-up time for a generated region.
//   slotmatch_footprint --units 1200 --days 60 [--booked-percent 50]
// Prints, for one run: the slot count, the time to parse and validate the region YAML, the
// time to build the index (schedules → slots, shards, tables), and the resident memory the
// engine added, per slot, and what one copy of the catalog adds (each appointment type added
// live keeps one for the run). With --booked-percent P, it then books P of every 100 slots, each
// for a patient of its own, by the staff of the slot's unit, and prints what that added, per
// booking, beside the sizes of the records a booking writes. Resident memory comes from
// /proc/self/statm, the copy's size from mallinfo2.
#include <malloc.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <slotmatch/config.hpp>
#include <slotmatch/engine.hpp>
#include <slotmatch/patient.hpp>
#include <slotmatch/patients.hpp>
#include <sstream>
#include <vector>

#include "bench_patients.hpp"
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

// The n-th of 33.6 million personnummer: born 19YY-MM-DD (days 1-28), serial n % 1000, with
// their Luhn digit.
PatientKey patient_number(std::uint32_t n) {
    return *parse_patient_id(bench::personnummer(static_cast<int>(1900 + (n / 336'000) % 100),
                                                 1 + (n / 28'000) % 12, 1 + (n / 1000) % 28,
                                                 n % 1000))
                .key;
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
        "seed", po::value(&spec.seed)->default_value(spec.seed), "generator seed")(
        "booked-percent", po::value<int>()->default_value(0),
        "then book this many of every 100 slots (0-100), a patient each, and print what it "
        "added");
    int exit_code = 0;
    const auto parsed = tools::parse_command_line(argc, argv, options, "slotmatch_footprint",
                                                  "memory per slot and start-up time.", exit_code);
    if (!parsed) return exit_code;
    const int booked_percent = (*parsed)["booked-percent"].as<int>();
    if (booked_percent < 0 || booked_percent > 100) {
        std::cerr << "slotmatch_footprint: --booked-percent must be 0..100\n";
        return 2;
    }
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
    ::malloc_trim(0);  // the YAML text's heap back first, so that it does not count below
    const double before_mib = resident_mib();
    FixedClock clock(Instant{0});
    t0 = std::chrono::steady_clock::now();
    Engine engine(std::move(*loaded.catalog), clock);
    const double build_s = seconds_since(t0);
    ::malloc_trim(0);  // as slotmatchd does once it has recovered: the layout's pieces go back
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
    if (booked_percent == 0) return 0;

    // The clock just before the region's first slot, so that every slot may still be booked.
    std::int64_t first_start = INT64_MAX;
    for (std::uint32_t s = 0; s < engine.slot_count(); ++s) {
        first_start = std::min(first_start, engine.slot(SlotId{s})->start.value);
    }
    clock.set(Instant{first_start - seconds_per_hour});
    const Catalog& catalog = engine.catalog();
    std::vector<Event> drained(4096);
    std::size_t booked = 0, refused = 0;
    const double before_booking_mib = resident_mib();
    t0 = std::chrono::steady_clock::now();
    for (std::uint32_t s = 0; s < engine.slot_count(); ++s) {
        if (static_cast<int>(s % 100) >= booked_percent) continue;
        const SlotView slot = *engine.slot(SlotId{s});
        const Actor staff{Channel::staff,
                          ActorText::from("footprint"),
                          ActorName::from("Footprint Mätning"),
                          true,
                          catalog.resources[slot.resource.value].unit,
                          false};
        BookRequest request;
        request.slot = slot.id;
        request.patient = patient_number(s);  // a patient of its own
        const auto outcome = engine.book(staff, request);
        if (outcome.ok()) {
            ++booked;
        } else if (refused++ == 0) {
            std::cerr << "footprint: slot " << s << " refused: " << to_string(outcome.code) << " ("
                      << outcome.field << ": " << outcome.message << ")\n";
        }
        if ((booked + refused) % 1024 == 0) engine.events().drain(drained);
    }
    engine.events().drain(drained);
    const double book_s = seconds_since(t0);
    const double added_mib = resident_mib() - before_booking_mib;
    std::printf("booked:              %zu of %zu slots (%d %%) in %.2f s; %zu refused\n", booked,
                engine.slot_count(), booked_percent, book_s, refused);
    std::printf(
        "bookings resident:   %.0f MiB = %.1f bytes per booking; process total %.0f MiB"
        " = %.1f bytes per slot\n",
        added_mib,
        added_mib * 1024.0 * 1024.0 / static_cast<double>(std::max<std::size_t>(booked, 1)),
        resident_mib(), resident_mib() * 1024.0 * 1024.0 / slots);
    std::printf(
        "a booking writes:    its record %zu bytes, its patient's record %zu bytes and"
        " link %zu, the patient table's cell %zu bytes (key and pointer)\n",
        Engine::booking_record_bytes(), sizeof(PatientRecord), sizeof(std::atomic<std::uint64_t>),
        2 * sizeof(std::uint64_t));
    std::printf(
        "of the record:       actor %zu, actor name %zu, phone %zu, reason %zu bytes"
        " (R17, R18)\n",
        sizeof(ActorText), sizeof(ActorName), sizeof(PhoneText), sizeof(ReasonText));
    return refused == 0 ? 0 : 1;
}
