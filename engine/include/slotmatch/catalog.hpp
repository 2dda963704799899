// The region as configured: providers, units, resources, appointment types and schedules.
// Immutable once loaded; the slot index refers to it by dense indices.
#pragma once

#include <cstdint>
#include <optional>
#include <slotmatch/types.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace slotmatch {

// R18, R25: a unit's web switches and texts.
struct WebSettings {
    bool booking_active = false;        // case type "Boka tid"
    bool cancel_rebook_active = false;  // case type "Av/omboka tid"
    bool patient_comment = false;       // "Patientkommentar webb" (R18)
    std::string terms_book;             // villkorstext "Boka"
    std::string terms_cancel_rebook;    // villkorstext "Av/omboka"
};

enum class ResourceKind : std::uint8_t { position, person, room, equipment };

struct Resource {
    std::string id;
    ResourceKind kind = ResourceKind::person;
    std::string name;  // R12: for a position, what the citizen sees
    UnitIdx unit;
};

// R1-R8, R10: an appointment type (tidstyp).
struct AppointmentType {
    std::string id;
    std::string name;      // internal name, "Namn i journalsystemet"
    std::string web_name;  // "Namn för webbtidbok"; empty = never offered on web/proxy (R7)
    std::string web_info;  // "Informationstext för webb"
    bool web_bookable = false;
    bool web_cancellable = false;
    bool web_rebookable = false;
    bool hide_from_patient = false;  // R6: when set, the three flags above are cleared at load
    std::optional<int> window_days;  // R10; empty = 60 days ahead (R11)
    int duration_min = 15;
    bool region_wide = true;  // false: local to `unit`
    UnitIdx unit;
    bool removed = false;  // taken out of the region: offered and scheduled nowhere any more

    // R8: a type whose internal name contains "Ombud" is a proxy type.
    bool is_proxy() const { return name.find("Ombud") != std::string::npos; }
    // A unit may schedule it: its own local types and the region-wide ones.
    bool usable_in(UnitIdx u) const { return region_wide || unit == u; }
    // R7 + R6: offered at all on the web and proxy channels.
    bool web_visible() const { return !web_name.empty() && !hide_from_patient; }
};

inline constexpr int window_days_default = 61;  // R11: date - today <= 60, i.e. N = 61 (R10)
inline constexpr int window_days_max = 366;     // R10: a year ahead, leap day included
// The longest slot a config may give a type: a whole working day; longer is a typo. Searches for
// slots overlapping a time start this far before it.
inline constexpr int slot_duration_min_max = 480;

// Weekday bit i = day i of the week with Monday = 0 (ISO order).
struct Schedule {
    ResourceIdx resource;
    TypeIdx type;
    std::uint8_t weekdays = 0;
    int from_min = 0;  // local minutes after midnight
    int to_min = 0;
    std::int32_t valid_from_day = 0;  // local calendar days since 1970-01-01, inclusive
    std::int32_t valid_to_day = 0;    // inclusive
    // R10 as the seed has it ("Schemalägg ... Fylla i antal dagar"): the day count filled in
    // when scheduling, for this schedule's slots; 0: the appointment type's (docs/engine.md).
    std::int16_t window_days = 0;
};

struct Unit {
    std::string id;
    std::string name;
    ProviderIdx provider;
    WebSettings web;
    std::vector<ResourceIdx> resources;
    std::vector<TypeIdx> local_types;
};

struct Provider {
    std::string id;
    std::string name;
    std::vector<UnitIdx> units;
};

struct Catalog {
    std::string timezone = "Europe/Stockholm";
    int hold_ttl_s = 300;
    std::vector<Provider> providers;
    std::vector<Unit> units;
    std::vector<Resource> resources;
    std::vector<AppointmentType> types;
    std::vector<Schedule> schedules;

    std::unordered_map<std::string, UnitIdx> unit_by_id;
    std::unordered_map<std::string, ResourceIdx> resource_by_id;
    std::unordered_map<std::string, TypeIdx> type_by_id;

    const Unit& unit(UnitIdx u) const { return units[u.value]; }
    const Resource& resource(ResourceIdx r) const { return resources[r.value]; }
    const AppointmentType& type(TypeIdx t) const { return types[t.value]; }
    std::optional<UnitIdx> find_unit(const std::string& id) const;
    std::optional<ResourceIdx> find_resource(const std::string& id) const;
    std::optional<TypeIdx> find_type(const std::string& id) const;
    // A type a unit may schedule: its own local types and the region-wide ones.
    bool type_usable_in(TypeIdx t, UnitIdx u) const;
    // Appends a type (a type added live, docs/engine.md "Appointment types added live"): its
    // index, its unit's local types and the look-up map.
    TypeIdx add_type(AppointmentType type);
};

// An appointment type as a store records it: its number there, its id, and, for a type staff
// added live, its whole definition (the region file's types have theirs in the file).
struct RecordedType {
    std::uint32_t index = 0;
    std::string id;
    std::optional<AppointmentType> added;
};

// Numbers the region file's appointment types as the store does (docs/engine.md): each type
// the store records keeps its number, the types added live come from their records, and the
// file's types the store lacks follow them in the file's order. The schedules, the units'
// local types and the look-up map follow. False, with `why`, when the store has a type of the
// file's that the file no longer has, or a type added live that the file gives another
// duration, unit or internal name. `Numbering::names`: never refused (a reader naming a store's
// rows with a region file that may be older than the store): a type the file lacks is named by
// its stored id, and a type added live keeps its stored definition.
enum class Numbering : std::uint8_t { strict, names };
bool number_types_as_stored(Catalog& catalog, const std::vector<RecordedType>& stored,
                            std::string& why, Numbering numbering = Numbering::strict);

}  // namespace slotmatch
