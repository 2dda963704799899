// Catalog look-ups by configured id. The maps are filled once by the config loader; the catalog
// is immutable afterwards, so these are plain reads.
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
    const AppointmentType& type = types[t.value];
    return type.region_wide || type.unit == u;
}

}  // namespace slotmatch
