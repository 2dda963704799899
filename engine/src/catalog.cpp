// Catalog look-ups by configured id. The maps are filled by the config loader (and a type added
// live goes into a new copy of the catalog, docs/engine.md); a catalog is immutable once readers
// see it, so these are plain reads.
#include <limits>
#include <slotmatch/assert.hpp>
#include <slotmatch/catalog.hpp>

namespace slotmatch {

namespace {

template <typename Idx>
std::optional<Idx> find_in(const std::unordered_map<std::string, Idx>& by_id,
                           const std::string& id) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
        return std::nullopt;
    }
    return it->second;
}

}  // namespace

std::optional<UnitIdx> Catalog::find_unit(const std::string& id) const {
    return find_in(unit_by_id, id);
}

std::optional<ResourceIdx> Catalog::find_resource(const std::string& id) const {
    return find_in(resource_by_id, id);
}

std::optional<TypeIdx> Catalog::find_type(const std::string& id) const {
    return find_in(type_by_id, id);
}

bool Catalog::type_usable_in(TypeIdx t, UnitIdx u) const {
    // Indices come from this catalog, never from user input, so out of range is a bug.
    SM_ASSERT(t.value < types.size());
    SM_ASSERT(u.value < units.size());
    return types[t.value].usable_in(u);
}

TypeIdx Catalog::add_type(AppointmentType type) {
    const TypeIdx index{static_cast<std::uint32_t>(types.size())};
    SM_ASSERT(type.region_wide || type.unit.value < units.size());
    type_by_id.emplace(type.id, index);
    if (!type.region_wide) units[type.unit.value].local_types.push_back(index);
    types.push_back(std::move(type));
    return index;
}

namespace {

// What a type added live was defined with, for the messages.
std::string definition(const Catalog& c, const AppointmentType& t) {
    return "\"" + t.name + "\", " + std::to_string(t.duration_min) + " min, " +
           (t.region_wide ? std::string("region-wide")
                          : "local to unit " + c.units[t.unit.value].id);
}

}  // namespace

bool number_types_as_stored(Catalog& c, const std::vector<RecordedType>& stored, std::string& why,
                            Numbering numbering) {
    const bool names = numbering == Numbering::names;
    std::vector<const RecordedType*> at;  // by the store's number
    for (const RecordedType& r : stored) {
        if (r.index >= at.size()) at.resize(r.index + 1, nullptr);
        if (at[r.index] != nullptr && at[r.index]->id != r.id) {
            why = "the store numbers both appointment type " + at[r.index]->id + " and " + r.id +
                  " as number " + std::to_string(r.index + 1);
            return false;
        }
        if (at[r.index] == nullptr || r.added) at[r.index] = &r;
    }
    const std::vector<AppointmentType> file = std::move(c.types);
    const std::unordered_map<std::string, TypeIdx> file_by_id = std::move(c.type_by_id);
    c.types.clear();
    c.type_by_id.clear();
    for (Unit& u : c.units) u.local_types.clear();
    constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> number(file.size(), none);  // by the file's index
    for (std::uint32_t i = 0; i < at.size(); ++i) {
        const RecordedType* r = at[i];
        if (r == nullptr) {
            why = "the store records appointment types after number " + std::to_string(i + 1) +
                  " but none as that number (a damaged store)";
            return false;
        }
        const auto in_file = file_by_id.find(r->id);
        if (names && (in_file == file_by_id.end() || r->added)) {
            AppointmentType named = r->added.value_or(AppointmentType{});
            named.id = r->id;
            if (!r->added) named.name = r->id;
            if (named.unit.value >= c.units.size()) named.region_wide = true;
            if (in_file != file_by_id.end()) number[in_file->second.value] = i;
            c.add_type(std::move(named));
            continue;
        }
        if (in_file == file_by_id.end() && !r->added) {
            why = "the store has appointment type " + r->id + " (number " + std::to_string(i + 1) +
                  "), which the region file no longer has: keep it in the file (slotmatch admin "
                  "type remove takes a type out of the region)";
            return false;
        }
        if (r->added && !r->added->region_wide && r->added->unit.value >= c.units.size()) {
            why = "appointment type " + r->id + " was added live to a unit the region file lacks";
            return false;
        }
        if (in_file == file_by_id.end()) {
            c.add_type(*r->added);
            continue;
        }
        const AppointmentType& t = file[in_file->second.value];
        if (r->added && (t.name != r->added->name || t.duration_min != r->added->duration_min ||
                         t.region_wide != r->added->region_wide ||
                         (!t.region_wide && t.unit != r->added->unit))) {
            why = "appointment type " + r->id + " was added live as " + definition(c, *r->added) +
                  "; the region file gives it as " + definition(c, t) +
                  ": give it as it was added, or leave it out of the file";
            return false;
        }
        number[in_file->second.value] = c.add_type(t).value;
    }
    for (std::uint32_t f = 0; f < file.size(); ++f) {
        if (number[f] == none) number[f] = c.add_type(file[f]).value;
    }
    for (Schedule& s : c.schedules) s.type = TypeIdx{number[s.type.value]};
    return true;
}

}  // namespace slotmatch
