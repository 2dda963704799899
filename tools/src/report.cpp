#include "report.hpp"

#include <iomanip>
#include <map>
#include <ostream>
#include <slotmatch/patient.hpp>

namespace slotmatch::tools {

void print_diagnostics(std::ostream& out, const LoadResult& loaded) {
    for (const Diagnostic& d : loaded.diagnostics) out << format_diagnostic(d) << '\n';
    out << loaded.error_count() << " errors, " << loaded.warning_count() << " warnings\n";
}

namespace {

// Left-aligned to `width` characters; iomanip counts bytes, and Swedish names have å, ä, ö.
std::string pad(const std::string& text, std::size_t width) {
    std::size_t chars = 0;
    for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
    return chars >= width ? text + ' ' : text + std::string(width - chars, ' ');
}

}  // namespace

void print_region_summary(std::ostream& out, const Engine& engine) {
    const Catalog& c = engine.catalog();
    std::vector<std::size_t> slots_per_unit(c.units.size());
    for (std::uint32_t i = 0; i < engine.slot_count(); ++i) {
        ++slots_per_unit[engine.slot(SlotId{i})->unit.value];
    }
    out << "Region: " << c.providers.size() << " care providers, " << c.units.size() << " units, "
        << c.resources.size() << " resources, " << c.types.size() << " appointment types, "
        << engine.slot_count() << " slots (" << c.timezone << ")\n\n";
    out << std::left << std::setw(36) << "unit" << std::setw(11) << "resources" << std::setw(7)
        << "types" << std::setw(8) << "slots"
        << "web book / cancel+rebook\n";
    for (std::size_t u = 0; u < c.units.size(); ++u) {
        const Unit& unit = c.units[u];
        out << pad(unit.name, 36) << std::setw(11) << unit.resources.size() << std::setw(7)
            << unit.local_types.size() << std::setw(8) << slots_per_unit[u]
            << (unit.web.booking_active ? "on" : "off") << " / "
            << (unit.web.cancel_rebook_active ? "on" : "off") << '\n';
    }
    out << "\nappointment types (B = web bookable, C = web cancellable, R = web rebookable, "
           "H = hidden, P = proxy):\n";
    for (const AppointmentType& t : c.types) {
        std::string flags = std::string(t.web_bookable ? "B" : "-") +
                            (t.web_cancellable ? "C" : "-") + (t.web_rebookable ? "R" : "-") +
                            (t.hide_from_patient ? "H" : "-") + (t.is_proxy() ? "P" : "-");
        std::string window = t.window_days ? std::to_string(*t.window_days) + " d" : "60 d ahead";
        out << "  " << flags << "  " << pad(t.id, 24) << pad(t.name, 30)
            << "web: " << (t.web_name.empty() ? "(none: never on the web)" : t.web_name)
            << "  window " << window << '\n';
    }
}

nlohmann::json slot_json(const Engine& engine, const SlotView& s) {
    const Catalog& c = engine.catalog();
    return {{"slot_id", s.id.value},
            {"unit", c.unit(s.unit).id},
            {"resource", c.resource(s.resource).id},
            {"appointment_type", c.type(s.type).id},
            {"start", engine.calendar().format(s.start)},
            {"end", engine.calendar().format(s.end)},
            {"state", std::string(to_string(s.state))}};
}

nlohmann::json booking_json(const Engine& engine, const BookingView& b) {
    const Catalog& c = engine.catalog();
    nlohmann::json j = {{"booking_id", b.id.value},
                        {"slot_id", b.slot.id.value},
                        {"unit", c.unit(b.slot.unit).id},
                        {"resource", c.resource(b.slot.resource).id},
                        {"appointment_type", c.type(b.slot.type).id},
                        {"start", engine.calendar().format(b.slot.start)},
                        {"patient", format_patient_id(b.patient)},
                        {"channel", std::string(to_string(b.channel))},
                        {"changed_by", changed_by(b)},
                        {"from_waitlist", b.from_waitlist}};
    if (!b.phone.empty()) j["phone"] = std::string(b.phone.view());
    if (!b.reason.empty()) j["reason"] = std::string(b.reason.view());
    return j;
}

nlohmann::json refusal_json(ErrorCode code, std::string_view field, std::string_view message) {
    return {{"ok", false},
            {"error",
             {{"code", std::string(to_string(code))},
              {"message", std::string(message)},
              {"field", std::string(field)}}}};
}

std::optional<Instant> parse_fixed_clock(const Calendar& calendar, const std::string& flag,
                                         std::string& why) {
    const std::string prefix = "fixed:";
    if (flag.rfind(prefix, 0) != 0) {
        why = "--clock takes fixed:ISO8601, e.g. fixed:2026-03-02T08:00:00+01:00";
        return std::nullopt;
    }
    auto t = calendar.parse_time(flag.substr(prefix.size()));
    if (!t) why = "--clock: not an ISO 8601 time: " + flag.substr(prefix.size());
    return t;
}

}  // namespace slotmatch::tools
