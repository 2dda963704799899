// A synthetic region at Sweden's scale, as region YAML (the format of ARCHITECTURE.md):
// health centres with 10–20 resources and 10–20 appointment types each, and weekday schedules
// over N days. The same spec gives the same text, byte for byte, and the region passes the
// loader without errors or lint warnings. Used by slotmatch-gen and the benchmarks.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace slotmatch::tools {

struct RegionSpec {
    static constexpr int units_max = 100'000;
    static constexpr int days_max = 400;
    int units = 1200;
    int days = 60;
    std::uint64_t seed = 1;
    std::string start = "2026-12-01";  // first schedule day
    int resources_min = 10, resources_max = 20;
    int types_min = 10, types_max = 20;
};

// Writes the region to `out`; progress lines and the estimated slot count go to `progress`.
// Returns 0, or 2 for a spec that makes no sense (a bad start date).
int generate_region(const RegionSpec& spec, std::ostream& out, std::ostream& progress);

}  // namespace slotmatch::tools
