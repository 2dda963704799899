// The region file's image in a snapshot (region_image.hpp).
#include "region_image.hpp"

#include <fstream>
#include <iterator>
#include <vector>

#include "binary_io.hpp"

namespace slotmatch::journal {
namespace {

constexpr std::uint32_t image_version = 2;  // 2: the key names the program

// The image holds every field of the catalog. A field added to one of these structs must be
// added to put_catalog and get_catalog too (and image_version moved on); these sizes are
// libstdc++'s on x86-64, where slotmatch is built, and stop the build until that is done.
static_assert(sizeof(Schedule) == 32 && sizeof(Resource) == 80 &&
                  sizeof(AppointmentType) == 160 && sizeof(Unit) == 192 &&
                  sizeof(Provider) == 88 && sizeof(WebSettings) == 72 && sizeof(Catalog) == 328,
              "the catalog changed: keep the region image in step with it");

std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

template <typename Id>
void put_ids(Writer& w, const std::vector<Id>& ids) {
    w.put(static_cast<std::uint64_t>(ids.size()));
    for (const Id id : ids) w.put(id.value);
}

// Indices below `limit` only: a damaged image must not name what the catalog lacks.
template <typename Id>
bool get_ids(Reader& r, std::vector<Id>& ids, std::size_t limit) {
    std::uint64_t n = 0;
    if (!r.count(n, sizeof(std::uint32_t))) return false;
    ids.resize(static_cast<std::size_t>(n));
    for (Id& id : ids) {
        if (!r.get(id.value) || id.value >= limit) return false;
    }
    return true;
}

enum TypeFlag : std::uint8_t {
    web_bookable = 1,
    web_cancellable = 2,
    web_rebookable = 4,
    hide_from_patient = 8,
    region_wide = 16,
    removed = 32,
    has_window = 64,
};

void put_catalog(Writer& w, const Catalog& c) {
    w.put_text(c.timezone);
    w.put(static_cast<std::int32_t>(c.hold_ttl_s));
    w.put(static_cast<std::uint64_t>(c.providers.size()));
    for (const Provider& p : c.providers) {
        w.put_text(p.id);
        w.put_text(p.name);
        put_ids(w, p.units);
    }
    w.put(static_cast<std::uint64_t>(c.units.size()));
    for (const Unit& u : c.units) {
        w.put_text(u.id);
        w.put_text(u.name);
        w.put(u.provider.value);
        w.put(static_cast<std::uint8_t>(u.web.booking_active | u.web.cancel_rebook_active << 1 |
                                        u.web.patient_comment << 2));
        w.put_text(u.web.terms_book);
        w.put_text(u.web.terms_cancel_rebook);
        put_ids(w, u.resources);
        put_ids(w, u.local_types);
    }
    w.put(static_cast<std::uint64_t>(c.resources.size()));
    for (const Resource& r : c.resources) {
        w.put_text(r.id);
        w.put(static_cast<std::uint8_t>(r.kind));
        w.put_text(r.name);
        w.put(r.unit.value);
    }
    w.put(static_cast<std::uint64_t>(c.types.size()));
    for (const AppointmentType& t : c.types) {
        w.put_text(t.id);
        w.put_text(t.name);
        w.put_text(t.web_name);
        w.put_text(t.web_info);
        w.put(static_cast<std::uint8_t>(
            (t.web_bookable ? web_bookable : 0) | (t.web_cancellable ? web_cancellable : 0) |
            (t.web_rebookable ? web_rebookable : 0) |
            (t.hide_from_patient ? hide_from_patient : 0) | (t.region_wide ? region_wide : 0) |
            (t.removed ? removed : 0) | (t.window_days ? has_window : 0)));
        w.put(static_cast<std::int32_t>(t.window_days.value_or(0)));
        w.put(static_cast<std::int32_t>(t.duration_min));
        w.put(t.unit.value);
    }
    w.put(static_cast<std::uint64_t>(c.schedules.size()));
    for (const Schedule& s : c.schedules) {
        w.put(s.resource.value);
        w.put(s.type.value);
        w.put(s.weekdays);
        w.put(static_cast<std::int32_t>(s.from_min));
        w.put(static_cast<std::int32_t>(s.to_min));
        w.put(s.valid_from_day);
        w.put(s.valid_to_day);
        w.put(s.window_days);
    }
}

// Strings take at least their 8-byte size, so a count of them must fit that.
constexpr std::size_t text_min = sizeof(std::uint64_t);

bool get_catalog(Reader& r, Catalog& c) {
    std::int32_t hold_ttl = 0;
    std::uint64_t n = 0;
    if (!r.get_text(c.timezone) || !r.get(hold_ttl) || !r.count(n, 3 * text_min)) return false;
    c.hold_ttl_s = hold_ttl;
    c.providers.resize(static_cast<std::size_t>(n));
    // Unit indices are checked once the units are read; resources' and types' likewise.
    for (Provider& p : c.providers) {
        if (!r.get_text(p.id) || !r.get_text(p.name) || !get_ids(r, p.units, UINT32_MAX)) {
            return false;
        }
    }
    if (!r.count(n, 4 * text_min)) return false;
    c.units.resize(static_cast<std::size_t>(n));
    for (Unit& u : c.units) {
        std::uint8_t web = 0;
        if (!r.get_text(u.id) || !r.get_text(u.name) || !r.get(u.provider.value) ||
            u.provider.value >= c.providers.size() || !r.get(web) ||
            !r.get_text(u.web.terms_book) || !r.get_text(u.web.terms_cancel_rebook) ||
            !get_ids(r, u.resources, UINT32_MAX) || !get_ids(r, u.local_types, UINT32_MAX)) {
            return false;
        }
        u.web.booking_active = (web & 1) != 0;
        u.web.cancel_rebook_active = (web & 2) != 0;
        u.web.patient_comment = (web & 4) != 0;
    }
    for (const Provider& p : c.providers) {
        for (const UnitIdx u : p.units) {
            if (u.value >= c.units.size()) return false;
        }
    }
    if (!r.count(n, 2 * text_min)) return false;
    c.resources.resize(static_cast<std::size_t>(n));
    for (Resource& res : c.resources) {
        std::uint8_t kind = 0;
        if (!r.get_text(res.id) || !r.get(kind) ||
            kind > static_cast<std::uint8_t>(ResourceKind::equipment) || !r.get_text(res.name) ||
            !r.get(res.unit.value) || res.unit.value >= c.units.size()) {
            return false;
        }
        res.kind = static_cast<ResourceKind>(kind);
    }
    if (!r.count(n, 4 * text_min)) return false;
    c.types.resize(static_cast<std::size_t>(n));
    for (AppointmentType& t : c.types) {
        std::uint8_t flags = 0;
        std::int32_t window = 0, duration = 0;
        if (!r.get_text(t.id) || !r.get_text(t.name) || !r.get_text(t.web_name) ||
            !r.get_text(t.web_info) || !r.get(flags) || !r.get(window) || !r.get(duration) ||
            !r.get(t.unit.value) || ((flags & region_wide) == 0 && t.unit.value >= c.units.size())) {
            return false;
        }
        t.web_bookable = (flags & web_bookable) != 0;
        t.web_cancellable = (flags & web_cancellable) != 0;
        t.web_rebookable = (flags & web_rebookable) != 0;
        t.hide_from_patient = (flags & hide_from_patient) != 0;
        t.region_wide = (flags & region_wide) != 0;
        t.removed = (flags & removed) != 0;
        if ((flags & has_window) != 0) t.window_days = window;
        t.duration_min = duration;
    }
    for (const Unit& u : c.units) {
        for (const ResourceIdx res : u.resources) {
            if (res.value >= c.resources.size()) return false;
        }
        for (const TypeIdx t : u.local_types) {
            if (t.value >= c.types.size()) return false;
        }
    }
    if (!r.count(n, 27)) return false;
    c.schedules.resize(static_cast<std::size_t>(n));
    for (Schedule& s : c.schedules) {
        std::int32_t from = 0, to = 0;
        if (!r.get(s.resource.value) || s.resource.value >= c.resources.size() ||
            !r.get(s.type.value) || s.type.value >= c.types.size() || !r.get(s.weekdays) ||
            !r.get(from) || !r.get(to) || !r.get(s.valid_from_day) || !r.get(s.valid_to_day) ||
            !r.get(s.window_days)) {
            return false;
        }
        s.from_min = from;
        s.to_min = to;
    }
    for (std::uint32_t i = 0; i < c.units.size(); ++i) c.unit_by_id.emplace(c.units[i].id, UnitIdx{i});
    for (std::uint32_t i = 0; i < c.resources.size(); ++i) {
        c.resource_by_id.emplace(c.resources[i].id, ResourceIdx{i});
    }
    for (std::uint32_t i = 0; i < c.types.size(); ++i) c.type_by_id.emplace(c.types[i].id, TypeIdx{i});
    return c.unit_by_id.size() == c.units.size() && c.resource_by_id.size() == c.resources.size() &&
           c.type_by_id.size() == c.types.size();
}

// The running program's bytes, hashed once (2 MB for a release build of slotmatchd); 0 where
// they cannot be read.
std::uint64_t program_hash() {
    static const std::uint64_t hash = [] {
        std::ifstream file("/proc/self/exe", std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
        return file.bad() || bytes.empty() ? 0 : fnv1a(bytes);
    }();
    return hash;
}

}  // namespace

std::optional<RegionText> read_region_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return std::nullopt;
    RegionText read;
    read.text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (file.bad()) return std::nullopt;
    read.key = {read.text.size(), fnv1a(read.text), program_hash()};
    return read;
}

std::string encode_region(const RegionKey& key, const LoadResult& loaded) {
    Writer w;
    w.put(image_version);
    w.put(key.bytes);
    w.put(key.hash);
    w.put(key.program);
    put_catalog(w, *loaded.catalog);
    w.put(static_cast<std::uint64_t>(loaded.diagnostics.size()));
    for (const Diagnostic& d : loaded.diagnostics) {
        w.put(static_cast<std::uint8_t>(d.severity));
        w.put_text(d.path);
        w.put_text(d.rule);
        w.put_text(d.message);
    }
    return std::move(w.bytes());
}

std::optional<LoadResult> decode_region(std::string_view image, const RegionKey& want,
                                        std::string& why) {
    why.clear();
    Reader r(image);
    std::uint32_t version = 0;
    RegionKey key;
    if (!r.get(version) || version != image_version || !r.get(key.bytes) || !r.get(key.hash) ||
        !r.get(key.program)) {
        why = "its region image is of another format";
        return std::nullopt;
    }
    if (key != want) return std::nullopt;
    LoadResult loaded;
    loaded.catalog.emplace();
    std::uint64_t n = 0;
    bool ok = get_catalog(r, *loaded.catalog) && r.count(n, 1 + 3 * text_min);
    for (std::uint64_t i = 0; ok && i < n; ++i) {
        Diagnostic& d = loaded.diagnostics.emplace_back();
        std::uint8_t severity = 0;
        ok = r.get(severity) && severity <= 1 && r.get_text(d.path) && r.get_text(d.rule) &&
             r.get_text(d.message);
        d.severity = static_cast<Diagnostic::Severity>(severity);
    }
    if (!ok || !r.done()) {
        why = "its region image is damaged";
        return std::nullopt;
    }
    return loaded;
}

}  // namespace slotmatch::journal
