// slotmatch-gen: writes a synthetic region at Sweden's scale as region YAML; see region_gen.hpp.
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "program.hpp"
#include "region_gen.hpp"

namespace po = boost::program_options;
using slotmatch::tools::generate_region;
using slotmatch::tools::RegionSpec;

int main(int argc, char** argv) {
    RegionSpec o;
    std::string out_path;
    const std::string units_help =
        "health centres (1.." + std::to_string(RegionSpec::units_max) + ")";
    const std::string days_help =
        "days of schedules (1.." + std::to_string(RegionSpec::days_max) + ")";
    po::options_description options("slotmatch-gen [options] > region.yaml");
    options.add_options()("help,h", "print this help and exit")(
        "units", po::value(&o.units)->default_value(o.units), units_help.c_str())(
        "days", po::value(&o.days)->default_value(o.days), days_help.c_str())(
        "seed", po::value(&o.seed)->default_value(o.seed), "the same seed gives the same region")(
        "start", po::value(&o.start)->default_value(o.start), "first schedule day, YYYY-MM-DD")(
        "out", po::value(&out_path), "write here instead of standard output");
    int exit_code = 0;
    const auto parsed = slotmatch::tools::parse_command_line(
        argc, argv, options, "slotmatch-gen", "a synthetic region at national scale.", exit_code);
    if (!parsed) return exit_code;
    if (o.units < 1 || o.units > RegionSpec::units_max || o.days < 1 ||
        o.days > RegionSpec::days_max) {
        std::cerr << "slotmatch-gen: --units must be 1.." << RegionSpec::units_max
                  << " and --days 1.." << RegionSpec::days_max << '\n';
        return 2;
    }
    if (out_path.empty()) return generate_region(o, std::cout, std::cerr);
    std::ofstream file(out_path);
    if (!file) {
        std::cerr << "slotmatch-gen: cannot write " << out_path << '\n';
        return 1;
    }
    const int rc = generate_region(o, file, std::cerr);
    file.close();
    if (!file) {
        std::cerr << "slotmatch-gen: writing " << out_path << " failed (disk full?)\n";
        return 1;
    }
    return rc;
}
