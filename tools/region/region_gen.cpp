#include "region_gen.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <slotmatch/calendar.hpp>
#include <string>
#include <vector>

namespace slotmatch::tools {
namespace {

// splitmix64: tiny, fast and the same on every platform (std distributions are not).
class Random {
  public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    int between(int lo, int hi) {
        return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    template <typename T>
    const T& pick(const std::vector<T>& v) {
        return v[next() % v.size()];
    }

  private:
    std::uint64_t state_;
};

const std::vector<std::string> regions = {
    "Region Stockholm",    "Västra Götalandsregionen", "Region Skåne",
    "Region Östergötland", "Region Uppsala",           "Region Jönköpings län",
    "Region Halland",      "Region Örebro län",        "Region Västmanland",
    "Region Dalarna",      "Region Gävleborg",         "Region Värmland",
    "Region Sörmland",     "Region Kalmar län",        "Region Kronoberg",
    "Region Blekinge",     "Region Västernorrland",    "Region Jämtland Härjedalen",
    "Region Västerbotten", "Region Norrbotten",        "Region Gotland"};
const std::vector<std::string> places = {
    "Lerum",        "Alingsås",   "Partille",   "Kungälv",     "Mölndal",    "Borås",
    "Skövde",       "Lidköping",  "Uddevalla",  "Trollhättan", "Vänersborg", "Mariestad",
    "Falköping",    "Varberg",    "Kungsbacka", "Halmstad",    "Lund",       "Ystad",
    "Kristianstad", "Hässleholm", "Växjö",      "Kalmar",      "Visby",      "Linköping",
    "Norrköping",   "Motala",     "Uppsala",    "Enköping",    "Västerås",   "Sala",
    "Örebro",       "Karlstad",   "Falun",      "Borlänge",    "Gävle",      "Sandviken",
    "Sundsvall",    "Östersund",  "Umeå",       "Skellefteå",  "Luleå",      "Kiruna",
    "Nyköping",     "Eskilstuna", "Södertälje", "Solna",       "Täby"};
const std::vector<std::string> first_names = {
    "Anna", "Erik",   "Maria", "Lars",    "Karin",  "Per",  "Eva",   "Johan", "Sara",   "Anders",
    "Lena", "Mikael", "Emma",  "Fredrik", "Ingrid", "Olof", "Sofia", "Ahmed", "Fatima", "Nils"};
const std::vector<std::string> last_names = {
    "Berg",      "Lund",     "Holm",     "Ek",     "Ström", "Nilsson", "Johansson", "Karlsson",
    "Lindqvist", "Sandberg", "Axelsson", "Hassan", "Öberg", "Åkesson", "Wallin",    "Forsberg"};
const std::vector<std::string> positions = {"Distriktssköterska",
                                            "Barnmorska",
                                            "Fysioterapeut",
                                            "Arbetsterapeut",
                                            "Kurator",
                                            "Psykolog",
                                            "Dietist",
                                            "Undersköterska",
                                            "Sjuksköterska",
                                            "Diabetessjuksköterska"};

struct TypeTemplate {
    const char* name;
    const char* web_name;  // empty: staff only (R7)
    bool bookable, cancellable, rebookable, hidden;
};
const std::vector<TypeTemplate> type_templates = {
    {"Nybesök läkare", "Bedömning av nya besvär", true, true, true, false},
    {"Återbesök läkare", "Återbesök hos läkare", true, true, true, false},
    {"Provtagning lab", "Provtagning", true, false, true, false},
    {"Vaccination", "Vaccination", true, true, true, false},
    {"Såromläggning", "Såromläggning", true, true, false, false},
    {"Samtal kurator", "Samtal med kurator", true, true, true, false},
    {"Uppföljning provsvar", "Samtal om provsvar", false, false, false, true},
    {"Telefontid intern", "", false, false, false, false},
    {"Blodtryckskontroll", "Blodtryckskontroll", true, true, true, false},
    {"Hälsosamtal", "Hälsosamtal", true, true, true, false},
    {"Fysioterapi första besök", "Första besök hos fysioterapeut", true, true, true, false},
    {"Diabeteskontroll", "Diabeteskontroll", true, true, true, false},
    {"Akut tid", "Akut besök samma dag", true, true, true, false},
    {"Astma och KOL", "Astma- och KOL-mottagning", true, true, true, false},
    {"Barnhälsovård", "Besök på BVC", true, true, true, false},
    {"Mödravård inskrivning", "Inskrivning på mödravården", true, true, true, false},
    {"Psykologsamtal", "Första samtal med psykolog", true, true, true, false},
    {"Intyg", "", false, false, false, false},
    {"Läkemedelsgenomgång", "Läkemedelsgenomgång", true, true, true, false},
    {"Dietistbesök", "Besök hos dietist", true, true, true, false}};
const std::vector<int> durations = {10, 15, 15, 20, 20, 30};

// One unit: resources, local types, and for each resource a working day cut into three
// blocks (07:30–10:00, 10:00–12:00, 13:00–16:30) of different types.
void write_unit(std::ostream& out, Random& rng, const RegionSpec& o, int provider, int u,
                const std::string& valid_from, const std::string& valid_to,
                std::size_t& slots_per_weekday) {
    const std::string uid = 'u' + std::to_string(u);
    const bool booking = rng.between(0, 19) != 0;
    const bool cancel_rebook = rng.between(0, 9) != 0;
    out << "      - id: " << uid << "\n        name: Vårdcentralen " << rng.pick(places) << ' ' << u
        << "\n        web: {booking_active: " << (booking ? "true" : "false")
        << ", cancel_rebook_active: " << (cancel_rebook ? "true" : "false")
        << ", patient_comment: " << (rng.between(0, 1) ? "true" : "false")
        << ", terms_book: Avboka senast 24 timmar innan.}\n        resources:\n";
    const int resources = rng.between(o.resources_min, o.resources_max);
    for (int r = 0; r < resources; ++r) {
        const bool position = rng.between(0, 2) == 0;
        out << "          - {id: " << uid << "-r" << r
            << ", type: " << (position ? "position" : "person") << ", name: ";
        if (position) {
            out << rng.pick(positions) << "}\n";
        } else {
            out << rng.pick(first_names) << ' ';
            out << rng.pick(last_names) << "}\n";
        }
    }
    const int types = rng.between(o.types_min, o.types_max);
    std::vector<int> type_duration(static_cast<std::size_t>(types));
    out << "        appointment_types:\n";
    for (int t = 0; t < types; ++t) {
        const TypeTemplate& tt =
            type_templates[static_cast<std::size_t>(t) % type_templates.size()];
        type_duration[static_cast<std::size_t>(t)] = rng.pick(durations);
        out << "          - {id: " << uid << "-t" << t << ", name: " << tt.name << ' ' << t;
        if (*tt.web_name) out << ", web_name: " << tt.web_name;
        out << ", web_bookable: " << (tt.bookable ? "true" : "false")
            << ", web_cancellable: " << (tt.cancellable ? "true" : "false")
            << ", web_rebookable: " << (tt.rebookable ? "true" : "false");
        if (tt.hidden) out << ", hide_from_patient: true";
        const int window = rng.between(0, 3);
        if (window == 1) out << ", window_days: 1";
        if (window == 2) out << ", window_days: 15";
        out << ", duration_min: " << type_duration[static_cast<std::size_t>(t)] << "}\n";
    }
    out << "        schedules:\n";
    const int blocks[3][2] = {{450, 600}, {600, 720}, {780, 990}};  // minutes after midnight
    for (int r = 0; r < resources; ++r) {
        for (const auto& block : blocks) {
            // The proxy type takes a morning block on the first resource of some units (R8).
            const bool proxy = r == 0 && block[0] == 600 && provider % 3 == 0;
            const int t = rng.between(0, types - 1);
            const int duration = proxy ? 15 : type_duration[static_cast<std::size_t>(t)];
            slots_per_weekday += static_cast<std::size_t>((block[1] - block[0]) / duration);
            char from[16], to[16];
            std::snprintf(from, sizeof from, "%02d:%02d", block[0] / 60, block[0] % 60);
            std::snprintf(to, sizeof to, "%02d:%02d", block[1] / 60, block[1] % 60);
            out << "          - {resource: " << uid << "-r" << r << ", appointment_type: ";
            if (proxy) {
                out << "ombud-bedomning";
            } else {
                out << uid << "-t" << t;
            }
            out << ", weekdays: [mon, tue, wed, thu, fri], from: \"" << from << "\", to: \"" << to
                << "\", valid_from: " << valid_from << ", valid_to: " << valid_to << "}\n";
        }
    }
}

}  // namespace

int generate_region(const RegionSpec& o, std::ostream& out, std::ostream& progress) {
    const auto start = slotmatch::Calendar::parse_day(o.start);
    if (!start) {
        progress << "slotmatch-gen: --start must be a date, YYYY-MM-DD\n";
        return 2;
    }
    const std::string valid_from = slotmatch::Calendar::format_day(*start);
    const std::string valid_to = slotmatch::Calendar::format_day(*start + o.days - 1);
    Random rng(o.seed);
    out << "# Generated by: slotmatch-gen --units " << o.units << " --days " << o.days << " --seed "
        << o.seed << " --start " << o.start << "\n"
        << "timezone: Europe/Stockholm\nhold_ttl_s: 300\nappointment_types:\n"
           "  - {id: ombud-bedomning, name: Ombud bedömning, web_name: Bedömning via 1177, "
           "web_bookable: true, web_cancellable: true, web_rebookable: true, duration_min: 15}\n"
           "providers:\n";
    const int providers = static_cast<int>(regions.size());
    std::size_t slots_per_weekday = 0;
    int unit = 0;
    for (int p = 0; p < providers && unit < o.units; ++p) {
        out << "  - id: se2321000" << 100 + p
            << "-E0000000001\n    name: " << regions[static_cast<std::size_t>(p)]
            << "\n    units:\n";
        const int share = (o.units - unit + (providers - p) - 1) / (providers - p);
        for (int i = 0; i < share && unit < o.units; ++i, ++unit) {
            write_unit(out, rng, o, p, unit, valid_from, valid_to, slots_per_weekday);
            if ((unit + 1) % 100 == 0)
                progress << "slotmatch-gen: " << unit + 1 << '/' << o.units << " units\n";
        }
    }
    int weekdays = 0;
    for (int d = 0; d < o.days; ++d) {
        weekdays += slotmatch::Calendar::weekday(*start + d) < 5;
    }
    progress << "slotmatch-gen: " << o.units << " units, about "
             << slots_per_weekday * static_cast<std::size_t>(weekdays) << " slots over " << weekdays
             << " weekdays\n";
    return out ? 0 : 1;
}

}  // namespace slotmatch::tools
