// Region config loader: every problem reported with its path, lints for R6, R7, R8 and R12,
// and the demo region loading clean apart from its one deliberate R12 mistake.
#include <date/date.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <slotmatch/config.hpp>
#include <string>
#include <vector>

namespace slotmatch {
namespace {

const std::string source_dir = SLOTMATCH_SOURCE_DIR;

std::vector<Diagnostic> of_severity(const LoadResult& result, Diagnostic::Severity severity) {
    std::vector<Diagnostic> found;
    for (const Diagnostic& d : result.diagnostics) {
        if (d.severity == severity) {
            found.push_back(d);
        }
    }
    return found;
}

std::vector<Diagnostic> errors(const LoadResult& r) {
    return of_severity(r, Diagnostic::Severity::error);
}
std::vector<Diagnostic> warnings(const LoadResult& r) {
    return of_severity(r, Diagnostic::Severity::warning);
}

std::vector<std::string> paths(const std::vector<Diagnostic>& diagnostics) {
    std::vector<std::string> out;
    out.reserve(diagnostics.size());
    for (const Diagnostic& d : diagnostics) {
        out.push_back(d.path);
    }
    return out;
}

// Printed on failure, so a broken expectation shows what the loader actually said.
std::string dump(const LoadResult& result) {
    std::string out;
    for (const Diagnostic& d : result.diagnostics) {
        out += format_diagnostic(d) + "\n";
    }
    return out;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A valid one-unit region; each test splices in (flow-style) the part it is about.
std::string region(const std::string& resources, const std::string& types,
                   const std::string& schedules = "[]", const std::string& top = "") {
    return top +
           "providers:\n"
           "  - id: p1\n"
           "    name: Västra Götalandsregionen\n"
           "    units:\n"
           "      - id: u1\n"
           "        name: Vårdcentralen Lerum\n"
           "        resources: " +
           resources +
           "\n"
           "        appointment_types: " +
           types +
           "\n"
           "        schedules: " +
           schedules + "\n";
}

const std::string person = "[{id: r1, type: person, name: Anna Berg}]";
const std::string plain_type = "[{id: t1, name: Nybesök, web_name: Besök, web_bookable: true}]";

LoadResult load(const std::string& yaml) {
    return load_region_text(yaml, "inline.yaml");
}

LoadResult load_position(const std::string& name) {
    return load(region("[{id: r1, type: position, name: \"" + name + "\"}]", plain_type));
}

// ---- the demo region ------------------------------------------------------------------------

TEST(Config, DemoLoadsWithOnlyTheDeliberateR12Warning) {
    const LoadResult result = load_region_file(source_dir + "/tools/region/demo.yaml");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.error_count(), 0u) << dump(result);
    ASSERT_EQ(result.warning_count(), 1u) << dump(result);
    const Diagnostic& w = result.diagnostics.front();
    EXPECT_EQ(w.rule, "R12");
    EXPECT_EQ(w.path, "providers[0].units[1].resources[0].name");
    EXPECT_TRUE(contains(w.message, "\"DSK\"")) << w.message;
}

TEST(Config, DemoFillsIndicesAndLookups) {
    const LoadResult result = load_region_file(source_dir + "/tools/region/demo.yaml");
    ASSERT_TRUE(result.ok()) << dump(result);
    const Catalog& c = *result.catalog;
    EXPECT_EQ(c.timezone, "Europe/Stockholm");
    EXPECT_EQ(c.hold_ttl_s, 300);
    ASSERT_EQ(c.providers.size(), 2u);
    ASSERT_EQ(c.units.size(), 3u);
    EXPECT_EQ(c.providers[0].units.size(), 2u);
    EXPECT_EQ(c.providers[1].units, std::vector<UnitIdx>{UnitIdx{2}});
    EXPECT_EQ(c.unit_by_id.size(), c.units.size());
    EXPECT_EQ(c.resource_by_id.size(), c.resources.size());
    EXPECT_EQ(c.type_by_id.size(), c.types.size());

    const auto lerum = c.find_unit("se2321000131-E000000000101");
    const auto partille = c.find_unit("se5565000000-E000000000201");
    ASSERT_TRUE(lerum && partille);
    EXPECT_EQ(c.unit(*partille).provider, ProviderIdx{1});
    EXPECT_FALSE(c.find_unit("no-such-unit"));

    const auto proxy = c.find_type("ombud-bedomning");
    const auto nybesok = c.find_type("lerum-nybesok");
    ASSERT_TRUE(proxy && nybesok);
    EXPECT_TRUE(c.type(*proxy).region_wide);
    EXPECT_TRUE(c.type(*proxy).is_proxy());
    EXPECT_FALSE(c.type(*nybesok).region_wide);
    EXPECT_EQ(c.type(*nybesok).unit, *lerum);
    EXPECT_TRUE(c.type_usable_in(*proxy, *partille));
    EXPECT_TRUE(c.type_usable_in(*nybesok, *lerum));
    EXPECT_FALSE(c.type_usable_in(*nybesok, *partille));

    const auto dsk = c.find_resource("lerum-dsk-1");
    ASSERT_TRUE(dsk);
    EXPECT_EQ(c.resource(*dsk).unit, *lerum);
    EXPECT_EQ(c.resource(*dsk).kind, ResourceKind::position);
    const Unit& u = c.unit(*lerum);
    EXPECT_NE(std::find(u.resources.begin(), u.resources.end(), *dsk), u.resources.end());
    EXPECT_NE(std::find(u.local_types.begin(), u.local_types.end(), *nybesok), u.local_types.end());
    EXPECT_TRUE(u.web.patient_comment);
    EXPECT_FALSE(c.units[1].web.cancel_rebook_active);  // R25
}

TEST(Config, DemoExercisesTheRules) {
    const LoadResult result = load_region_file(source_dir + "/tools/region/demo.yaml");
    ASSERT_TRUE(result.ok()) << dump(result);
    const Catalog& c = *result.catalog;
    const auto type = [&](const char* id) { return c.type(*c.find_type(id)); };
    EXPECT_EQ(type("alingsas-akut").window_days, 1);                  // R10
    EXPECT_EQ(type("lerum-nybesok").window_days, 15);                 // R10
    EXPECT_FALSE(type("lerum-provtagning").window_days.has_value());  // R11
    EXPECT_TRUE(type("lerum-provtagning").web_rebookable);            // R5
    EXPECT_FALSE(type("lerum-provtagning").web_cancellable);
    EXPECT_FALSE(type("alingsas-provsvar").web_visible());  // R6
    EXPECT_FALSE(type("alingsas-telefon").web_visible());   // R7

    // Every resource is scheduled; the proxy type in two units.
    std::vector<bool> scheduled(c.resources.size(), false);
    std::vector<UnitIdx> proxy_units;
    for (const Schedule& s : c.schedules) {
        scheduled[s.resource.value] = true;
        if (c.type(s.type).is_proxy()) {
            proxy_units.push_back(c.resource(s.resource).unit);
        }
        EXPECT_TRUE(c.type_usable_in(s.type, c.resource(s.resource).unit));
    }
    EXPECT_EQ(std::count(scheduled.begin(), scheduled.end(), false), 0);
    std::sort(proxy_units.begin(), proxy_units.end());
    proxy_units.erase(std::unique(proxy_units.begin(), proxy_units.end()), proxy_units.end());
    EXPECT_EQ(proxy_units.size(), 2u);
}

// Slots the schedules lay out, counted the plain way (every day of every schedule).
long count_slots(const Catalog& c) {
    long slots = 0;
    for (const Schedule& s : c.schedules) {
        const int per_day = (s.to_min - s.from_min) / c.type(s.type).duration_min;
        for (std::int32_t day = s.valid_from_day; day <= s.valid_to_day; ++day) {
            const date::weekday weekday{date::sys_days{date::days{day}}};
            if ((s.weekdays >> (weekday.iso_encoding() - 1) & 1u) != 0) {
                slots += per_day;
            }
        }
    }
    return slots;
}

TEST(Config, DemoIsSmall) {
    const LoadResult result = load_region_file(source_dir + "/tools/region/demo.yaml");
    ASSERT_TRUE(result.ok()) << dump(result);
    const long slots = count_slots(*result.catalog);
    EXPECT_EQ(slots, 5432);  // the number quoted at the top of demo.yaml
}

// ---- errors: every one, each with its path --------------------------------------------------

TEST(Config, ThreeMistakesGiveExactlyThreeErrorsWithTheirPaths) {
    const LoadResult result = load_region_file(source_dir + "/tests/data/three-mistakes.yaml");
    EXPECT_FALSE(result.ok());
    EXPECT_FALSE(result.catalog.has_value());
    EXPECT_EQ(result.warning_count(), 0u) << dump(result);
    EXPECT_EQ(paths(errors(result)), (std::vector<std::string>{
                                         "providers[0].units[0].appointment_types[0].duration_min",
                                         "providers[0].units[0].schedules[0].resource",
                                         "providers[0].units[0].schedules[1].weekdays[1]",
                                     }))
        << dump(result);
    EXPECT_TRUE(contains(result.diagnostics[0].message, "line 21:")) << dump(result);
    EXPECT_TRUE(contains(result.diagnostics[1].message, "\"lerum-lak-9\"")) << dump(result);
    EXPECT_TRUE(contains(result.diagnostics[2].message, "\"tis\"")) << dump(result);
}

TEST(Config, UnknownKeyIsAnErrorNamingTheKey) {
    const LoadResult result = load(region("[{id: r1, type: person, nmae: Anna Berg}]", plain_type));
    EXPECT_FALSE(result.ok());
    // The typo and the then-missing "name" are both reported.
    EXPECT_EQ(paths(errors(result)),
              (std::vector<std::string>{"providers[0].units[0].resources[0].nmae",
                                        "providers[0].units[0].resources[0].name"}))
        << dump(result);
    EXPECT_TRUE(contains(errors(result)[0].message, "unknown key \"nmae\"")) << dump(result);
    EXPECT_TRUE(contains(errors(result)[0].message, "did you mean \"name\"")) << dump(result);
}

TEST(Config, UnknownTopLevelKeyIsAnError) {
    const LoadResult result = load(region(person, plain_type, "[]", "hold_ttl: 300\n"));
    EXPECT_EQ(paths(errors(result)), std::vector<std::string>{"hold_ttl"}) << dump(result);
}

TEST(Config, RepeatedKeyIsAnError) {
    const LoadResult result =
        load(region("[{id: r1, type: person, name: A, name: B}]", plain_type));
    EXPECT_EQ(paths(errors(result)),
              std::vector<std::string>{"providers[0].units[0].resources[0].name"})
        << dump(result);
    EXPECT_TRUE(contains(errors(result)[0].message, "appears twice")) << dump(result);
}

TEST(Config, YamlSyntaxErrorIsOneErrorWithItsLine) {
    const LoadResult result = load("timezone: Europe/Stockholm\nproviders:\n  - id: [p1\n");
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result);
    EXPECT_EQ(result.error_count(), 1u);
    EXPECT_TRUE(contains(result.diagnostics[0].message, "YAML syntax error")) << dump(result);
    EXPECT_TRUE(contains(result.diagnostics[0].message, "line 4")) << dump(result);
}

TEST(Config, DuplicateIdsAreErrorsAcrossTheRegion) {
    const std::string yaml =
        "appointment_types: [{id: t1, name: Ombud bedömning, web_name: Bedömning,\n"
        "  web_bookable: true, web_cancellable: true, web_rebookable: true}]\n"
        "providers:\n"
        "  - id: p1\n"
        "    name: VGR\n"
        "    units:\n"
        "      - {id: u1, name: A, resources: [{id: r1, type: person, name: Anna Berg}]}\n"
        "      - id: u1\n"
        "        name: B\n"
        "        resources: [{id: r1, type: person, name: Erik Lund}]\n"
        "        appointment_types: [{id: t1, name: Nybesök}]\n";
    const LoadResult result = load(yaml);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(paths(errors(result)),
              (std::vector<std::string>{"providers[0].units[1].id",
                                        "providers[0].units[1].resources[0].id",
                                        "providers[0].units[1].appointment_types[0].id"}))
        << dump(result);
    EXPECT_TRUE(contains(errors(result)[1].message, "first at providers[0].units[0].resources[0]"))
        << dump(result);
}

TEST(Config, BadTimezoneIsAnError) {
    const LoadResult result = load(region(person, plain_type, "[]", "timezone: Europe/Stokholm\n"));
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(paths(errors(result)), std::vector<std::string>{"timezone"}) << dump(result);
    EXPECT_TRUE(contains(errors(result)[0].message, "Europe/Stokholm")) << dump(result);
}

TEST(Config, DefaultsApplyWhenOptionalFieldsAreAbsent) {
    const LoadResult result = load(region(person, "[{id: t1, name: Nybesök}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    const Catalog& c = *result.catalog;
    EXPECT_EQ(c.hold_ttl_s, 300);
    EXPECT_EQ(c.timezone, "Europe/Stockholm");
    const AppointmentType& t = c.types.at(0);
    EXPECT_FALSE(t.window_days.has_value());  // R11: 60 days ahead
    EXPECT_EQ(t.duration_min, 15);
    EXPECT_FALSE(t.web_bookable || t.web_cancellable || t.web_rebookable || t.hide_from_patient);
    EXPECT_TRUE(t.web_name.empty());
    EXPECT_FALSE(c.units.at(0).web.booking_active);
}

TEST(Config, R11_EmptyWindowDaysMeansDefault) {
    const LoadResult result = load(region(person, "[{id: t1, name: Nybesök, window_days: }]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_FALSE(result.catalog->types.at(0).window_days.has_value());
}

TEST(Config, RangesAreChecked) {
    const LoadResult result =
        load(region(person,
                    "[{id: t1, name: A, duration_min: 481}, {id: t2, name: B, window_days: 0},"
                    " {id: t3, name: C, window_days: 367, duration_min: 0}]",
                    "[]", "hold_ttl_s: 3601\n"));
    EXPECT_EQ(paths(errors(result)),
              (std::vector<std::string>{"hold_ttl_s",
                                        "providers[0].units[0].appointment_types[0].duration_min",
                                        "providers[0].units[0].appointment_types[1].window_days",
                                        "providers[0].units[0].appointment_types[2].window_days",
                                        "providers[0].units[0].appointment_types[2].duration_min"}))
        << dump(result);
}

// R10 as scheduled: a schedule may give its own day count, in the type's range.
TEST(Config, R10_AScheduleDayCountIsReadAndChecked) {
    const std::string schedule =
        "{resource: r1, appointment_type: t1, weekdays: [mon], from: "
        "\"08:00\", to: \"09:00\", valid_from: 2026-03-02, "
        "valid_to: 2026-03-30, window_days: ";
    const LoadResult given = load(region(person, plain_type, "[" + schedule + "15}]"));
    ASSERT_TRUE(given.ok()) << dump(given);
    EXPECT_EQ(given.catalog->schedules.at(0).window_days, 15);
    const LoadResult wrong = load(region(person, plain_type, "[" + schedule + "367}]"));
    EXPECT_EQ(paths(errors(wrong)),
              std::vector<std::string>{"providers[0].units[0].schedules[0].window_days"})
        << dump(wrong);
}

TEST(Config, WrongScalarTypesAreErrors) {
    const LoadResult result =
        load(region("[{id: r1, type: robot, name: [Anna]}]",
                    "[{id: t1, name: A, web_bookable: maybe, duration_min: twenty}]"));
    EXPECT_EQ(paths(errors(result)),
              (std::vector<std::string>{"providers[0].units[0].resources[0].type",
                                        "providers[0].units[0].resources[0].name",
                                        "providers[0].units[0].appointment_types[0].web_bookable",
                                        "providers[0].units[0].appointment_types[0].duration_min"}))
        << dump(result);
}

TEST(Config, MissingRequiredFieldsAreErrors) {
    const LoadResult result =
        load(region("[{id: r1, name: Anna Berg}]", "[{name: A}]", "[{resource: r1}]"));
    EXPECT_EQ(paths(errors(result)),
              (std::vector<std::string>{"providers[0].units[0].resources[0].type",
                                        "providers[0].units[0].appointment_types[0].id",
                                        "providers[0].units[0].schedules[0].appointment_type",
                                        "providers[0].units[0].schedules[0].weekdays",
                                        "providers[0].units[0].schedules[0].from",
                                        "providers[0].units[0].schedules[0].to",
                                        "providers[0].units[0].schedules[0].valid_from",
                                        "providers[0].units[0].schedules[0].valid_to"}))
        << dump(result);
}

const std::string good_schedule =
    "resource: r1, appointment_type: t1, weekdays: [mon, fri], valid_from: 2026-09-01, "
    "valid_to: 2027-08-31";

TEST(Config, ScheduleTimesAndDatesAreChecked) {
    const std::string schedules =
        "[{resource: r1, appointment_type: t1, weekdays: [mon], from: '8:00', to: '12:00',"
        "  valid_from: 2026-09-01, valid_to: 2026-02-30},"
        " {resource: r1, appointment_type: t1, weekdays: [mon], from: '12:00', to: '08:00',"
        "  valid_from: 2026-09-01, valid_to: 2026-08-31},"
        " {resource: r1, appointment_type: t1, weekdays: [mon], from: '08:00', to: '08:10',"
        "  valid_from: 2026/09/01, valid_to: 2027-08-31}]";
    const LoadResult result = load(region(person, plain_type, schedules));
    EXPECT_EQ(
        paths(errors(result)),
        (std::vector<std::string>{
            "providers[0].units[0].schedules[0].from",
            "providers[0].units[0].schedules[0].valid_to", "providers[0].units[0].schedules[1].to",
            "providers[0].units[0].schedules[1].valid_to", "providers[0].units[0].schedules[2].to",
            "providers[0].units[0].schedules[2].valid_from"}))
        << dump(result);
    EXPECT_TRUE(contains(errors(result)[4].message, "shorter than one 15 min slot"))
        << dump(result);
}

TEST(Config, OverlappingSchedulesOfOneResourceAreAnError) {
    // Monday 08:00-12:00 and Mon/Tue 11:00-13:00 overlap on Mondays 11-12; Tue 08:00-09:00 and
    // the same hours on another resource do not.
    const std::string two =
        "[{id: r1, type: person, name: Anna Berg},"
        " {id: r2, type: person, name: Erik Lund}]";
    const std::string schedules =
        "[{resource: r1, appointment_type: t1, weekdays: [mon], from: '08:00', to: '12:00',"
        "  valid_from: 2026-09-01, valid_to: 2026-12-31},"
        " {resource: r1, appointment_type: t1, weekdays: [tue], from: '08:00', to: '09:00',"
        "  valid_from: 2026-09-01, valid_to: 2026-12-31},"
        " {resource: r2, appointment_type: t1, weekdays: [mon], from: '08:00', to: '12:00',"
        "  valid_from: 2026-09-01, valid_to: 2026-12-31},"
        " {resource: r1, appointment_type: t1, weekdays: [mon, tue], from: '11:00', to: '13:00',"
        "  valid_from: 2026-12-01, valid_to: 2027-01-31}]";
    const LoadResult result = load(region(two, plain_type, schedules));
    ASSERT_EQ(paths(errors(result)),
              (std::vector<std::string>{"providers[0].units[0].schedules[3]"}))
        << dump(result);
    EXPECT_TRUE(contains(errors(result)[0].message, "schedules[0]")) << dump(result);
}

TEST(Config, ScheduleEncodesDaysSinceEpochAndWeekdayBits) {
    const LoadResult result =
        load(region(person, plain_type, "[{" + good_schedule + ", from: '08:00', to: '12:30'}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    const Schedule& s = result.catalog->schedules.at(0);
    EXPECT_EQ(s.valid_from_day, 20697);  // 2026-09-01
    EXPECT_EQ(s.valid_to_day, 21061);    // 2027-08-31
    EXPECT_EQ(s.weekdays, 0b0010001);    // Monday = bit 0, Friday = bit 4
    EXPECT_EQ(s.from_min, 8 * 60);
    EXPECT_EQ(s.to_min, 12 * 60 + 30);
}

TEST(Config, ScheduleMayNotUseAnotherUnitsResourceOrLocalType) {
    const std::string yaml =
        "providers:\n"
        "  - id: p1\n"
        "    name: VGR\n"
        "    units:\n"
        "      - id: u1\n"
        "        name: A\n"
        "        resources: [{id: r1, type: person, name: Anna Berg}]\n"
        "        appointment_types: [{id: t1, name: Nybesök}]\n"
        "      - id: u2\n"
        "        name: B\n"
        "        resources: [{id: r2, type: person, name: Erik Lund}]\n"
        "        schedules: [{resource: r1, appointment_type: t1, weekdays: [mon],\n"
        "          from: '08:00', to: '12:00', valid_from: 2026-09-01, valid_to: 2027-08-31}]\n";
    const LoadResult result = load(yaml);
    EXPECT_EQ(paths(errors(result)),
              (std::vector<std::string>{"providers[0].units[1].schedules[0].resource",
                                        "providers[0].units[1].schedules[0].appointment_type"}))
        << dump(result);
    EXPECT_TRUE(contains(errors(result)[0].message, "belongs to unit \"u1\"")) << dump(result);
    EXPECT_TRUE(contains(errors(result)[1].message, "local to unit \"u1\"")) << dump(result);
}

TEST(Config, ErrorsCarryTheYamlLine) {
    const LoadResult result = load(region(person, "[{id: t1, name: A, duration_min: 0}]"));
    ASSERT_EQ(result.error_count(), 1u) << dump(result);
    EXPECT_TRUE(contains(result.diagnostics[0].message, "line 8:")) << dump(result);
}

TEST(Config, MissingFileIsOneError) {
    const LoadResult result = load_region_file(source_dir + "/tests/data/no-such-region.yaml");
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.error_count(), 1u);
}

TEST(Config, FormatDiagnosticIsOneLine) {
    const Diagnostic error{Diagnostic::Severity::error, "providers[0].units[1].resources[0].name",
                           "", "line 3: missing"};
    EXPECT_EQ(format_diagnostic(error),
              "error providers[0].units[1].resources[0].name: line 3: missing");
    const Diagnostic warning{Diagnostic::Severity::warning, "a.name", "R12", "write it out"};
    EXPECT_EQ(format_diagnostic(warning), "warning a.name: write it out (R12)");
}

// ---- lints: warnings, the region still loads ------------------------------------------------

TEST(Config, R6_HiddenTypeFlagsAreClearedWithAWarning) {
    const LoadResult result =
        load(region(person,
                    "[{id: t1, name: Provsvar, web_name: Provsvar, hide_from_patient: true,"
                    " web_bookable: true, web_rebookable: true}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    ASSERT_EQ(warnings(result).size(), 1u) << dump(result);
    EXPECT_EQ(warnings(result)[0].rule, "R6");
    EXPECT_EQ(warnings(result)[0].path,
              "providers[0].units[0].appointment_types[0].hide_from_patient");
    const AppointmentType& t = result.catalog->types.at(0);
    EXPECT_TRUE(t.hide_from_patient);
    EXPECT_FALSE(t.web_bookable);
    EXPECT_FALSE(t.web_cancellable);
    EXPECT_FALSE(t.web_rebookable);
}

TEST(Config, R6_HiddenTypeWithoutFlagsIsQuiet) {
    const LoadResult result =
        load(region(person, "[{id: t1, name: Provsvar, hide_from_patient: true}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(Config, R7_WarnsFlagsWithoutWebName) {
    const LoadResult result = load(region(person, "[{id: t1, name: Nybesök, web_bookable: true}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    ASSERT_EQ(warnings(result).size(), 1u) << dump(result);
    EXPECT_EQ(warnings(result)[0].rule, "R7");
    EXPECT_EQ(warnings(result)[0].path, "providers[0].units[0].appointment_types[0].web_name");
}

TEST(Config, R7_TypeWithoutWebNameOrFlagsIsQuiet) {
    const LoadResult result = load(region(person, "[{id: t1, name: Administrativ tid}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(Config, R8_WarnsUnitLocalProxyType) {
    const LoadResult result =
        load(region(person,
                    "[{id: t1, name: Ombud lokal, web_name: Bedömning, web_bookable: true,"
                    " web_cancellable: true, web_rebookable: true}]"));
    ASSERT_TRUE(result.ok()) << dump(result);
    ASSERT_EQ(warnings(result).size(), 1u) << dump(result);
    EXPECT_EQ(warnings(result)[0].rule, "R8");
    EXPECT_EQ(warnings(result)[0].path, "providers[0].units[0].appointment_types[0].name");
}

TEST(Config, R8_WarnsProxyTypeMissingFlags) {
    const std::string top =
        "appointment_types: [{id: ombud, name: Ombud bedömning, web_name: Bedömning,\n"
        "  web_bookable: true}]\n";
    const LoadResult result = load(region(person, plain_type, "[]", top));
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(paths(warnings(result)),
              (std::vector<std::string>{"appointment_types[0].web_cancellable",
                                        "appointment_types[0].web_rebookable"}))
        << dump(result);
    for (const Diagnostic& w : warnings(result)) {
        EXPECT_EQ(w.rule, "R8");
    }
}

TEST(Config, R8_RegionWideProxyTypeWithAllFlagsIsQuiet) {
    const std::string top =
        "appointment_types: [{id: ombud, name: Ombud bedömning, web_name: Bedömning,\n"
        "  web_bookable: true, web_cancellable: true, web_rebookable: true}]\n";
    const LoadResult result = load(region(person, plain_type, "[]", top));
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(Config, R12_LintWarnsAbbreviatedPositionName) {
    const LoadResult result = load_position("DSK");
    ASSERT_TRUE(result.ok()) << dump(result);
    ASSERT_EQ(warnings(result).size(), 1u) << dump(result);
    const Diagnostic w = warnings(result)[0];  // a copy: warnings() returns a temporary
    EXPECT_EQ(w.rule, "R12");
    EXPECT_EQ(w.path, "providers[0].units[0].resources[0].name");
    EXPECT_TRUE(contains(w.message, "write the role out, e.g. Distriktssköterska")) << w.message;
    EXPECT_TRUE(contains(format_diagnostic(w), "(R12)"));
}

TEST(Config, R12_LintWarnsRoomName) {
    for (const char* name : {"Behandlingsrum 2", "Rum 3", "Room 4", "Operationssal"}) {
        const LoadResult result = load_position(name);
        ASSERT_TRUE(result.ok()) << dump(result);
        ASSERT_EQ(warnings(result).size(), 1u) << name << "\n" << dump(result);
        EXPECT_EQ(warnings(result)[0].rule, "R12");
        EXPECT_TRUE(contains(warnings(result)[0].message, "room name")) << dump(result);
    }
}

TEST(Config, R12_LintWarnsLocumAndAgencyStaff) {
    for (const char* name : {"Stafettläkare", "Bemanningspersonal sjuksköterska"}) {
        const LoadResult result = load_position(name);
        ASSERT_TRUE(result.ok()) << dump(result);
        ASSERT_EQ(warnings(result).size(), 1u) << name << "\n" << dump(result);
        EXPECT_EQ(warnings(result)[0].rule, "R12");
    }
}

TEST(Config, R12_NoWarningForWrittenOutRoleOrPerson) {
    for (const char* name : {"Distriktssköterska", "AT-läkare", "Barnmorska"}) {
        const LoadResult result = load_position(name);
        ASSERT_TRUE(result.ok()) << dump(result);
        EXPECT_TRUE(result.diagnostics.empty()) << name << "\n" << dump(result);
    }
    // Only positions are linted: a person's name is their own.
    for (const char* name : {"Anna Berg", "DSK"}) {
        const LoadResult result = load(
            region("[{id: r1, type: person, name: \"" + std::string(name) + "\"}]", plain_type));
        ASSERT_TRUE(result.ok()) << dump(result);
        EXPECT_TRUE(result.diagnostics.empty()) << name << "\n" << dump(result);
    }
}

}  // namespace
}  // namespace slotmatch
