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

std::string hex(std::uint64_t v) {
    char text[19];
    std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
    return text;
}

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

namespace {

// An entity's id; one added after the catalog was fetched (admin type add) by its number.
std::string index_id(std::uint32_t i, const auto& list) {
    return i < list.size() ? list[i].id : std::to_string(i);
}

}  // namespace

nlohmann::json slot_json(const Catalog& c, const Calendar& calendar, const SlotView& s) {
    return {{"slot_id", s.id.value},
            {"unit", c.unit(s.unit).id},
            {"resource", c.resource(s.resource).id},
            {"appointment_type", index_id(s.type.value, c.types)},
            {"start", calendar.format(s.start)},
            {"end", calendar.format(s.end)},
            {"state", std::string(to_string(s.state))}};
}

nlohmann::json booking_json(const Catalog& c, const Calendar& calendar, const BookingView& b) {
    nlohmann::json j = {{"booking_id", b.id.value},
                        {"slot_id", b.slot.id.value},
                        {"unit", c.unit(b.slot.unit).id},
                        {"resource", c.resource(b.slot.resource).id},
                        {"appointment_type", index_id(b.slot.type.value, c.types)},
                        {"start", calendar.format(b.slot.start)},
                        {"patient", format_patient_id(b.patient)},
                        {"channel", std::string(to_string(b.channel))},
                        {"changed_by", changed_by(b)},
                        {"from_waitlist", b.from_waitlist}};
    if (b.waitlisted_at.value != 0) j["waitlisted_at"] = calendar.format(b.waitlisted_at);
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

namespace {

std::string str(const flatbuffers::String* s) {
    return s ? s->str() : std::string();
}

nlohmann::json error_json(const wire::Error& e) {
    return refusal_json(codec::from_wire(e.code()), str(e.field()), str(e.message()));
}

nlohmann::json waitlist_json(const Catalog& c, const Calendar& calendar,
                             const wire::WaitlistEntry& w) {
    return {{"waitlist_id", w.id()},
            {"unit", w.unit() < c.units.size() ? c.units[w.unit()].id : std::string()},
            {"appointment_type", index_id(w.appointment_type(), c.types)},
            {"patient", format_patient_id(PatientKey{w.patient()})},
            {"added_at", calendar.format(Instant{w.added_at()})}};
}

nlohmann::json log_values_json(const Catalog& c, const Calendar& calendar,
                               const wire::LogValues* v) {
    if (v == nullptr) return nullptr;
    nlohmann::json j = {{"slot_id", v->slot()},
                        {"resource", index_id(v->resource(), c.resources)},
                        {"appointment_type", index_id(v->appointment_type(), c.types)},
                        {"start", calendar.format(Instant{v->start()})},
                        {"booking_id", v->booking()}};
    if (v->phone()) j["phone"] = v->phone()->str();
    if (v->reason()) j["reason"] = v->reason()->str();
    return j;
}

nlohmann::json log_json(const Catalog& c, const Calendar& calendar, const wire::LogReply& r) {
    static constexpr const char* status[] = {"Booked", "Rebooked", "Cancelled"};
    nlohmann::json rows = nlohmann::json::array();
    if (r.rows()) {
        for (const wire::LogRow* row : *r.rows()) {
            const auto s = static_cast<std::size_t>(row->status());
            rows.push_back({{"status", s < 3 ? status[s] : "?"},
                            {"changed_at", calendar.format(Instant{row->changed_at()})},
                            {"changed_by", str(row->changed_by())},
                            {"patient", format_patient_id(PatientKey{row->patient()})},
                            {"unit", index_id(row->unit(), c.units)},
                            {"before", log_values_json(c, calendar, row->before())},
                            {"after", log_values_json(c, calendar, row->after())},
                            {"billable", row->billable()}});
        }
    }
    nlohmann::json j = {{"ok", true}, {"rows", rows}};
    if (r.truncated()) j["truncated"] = true;
    return j;
}

nlohmann::json audit_json(const Catalog& c, const Calendar& calendar, const wire::AuditReply& r) {
    nlohmann::json entries = nlohmann::json::array();
    if (r.entries()) {
        for (const wire::AuditEntry* e : *r.entries()) {
            const ErrorCode outcome = codec::from_wire(e->outcome());
            nlohmann::json j = {
                {"time", calendar.format(Instant{e->time()})},
                {"action", str(e->action())},
                {"channel",
                 std::string(to_string(codec::from_wire(e->channel()).value_or(Channel::staff)))},
                {"actor", str(e->actor())},
                {"actor_name", e->actor_name() ? nlohmann::json(str(e->actor_name())) : nullptr},
                {"on_behalf_of", e->on_behalf_of() ? nlohmann::json(format_patient_id(
                                                         PatientKey{e->on_behalf_of()}))
                                                   : nullptr},
                {"patient", format_patient_id(PatientKey{e->patient()})},
                {"unit",
                 e->unit() < c.units.size() ? nlohmann::json(c.units[e->unit()].id) : nullptr},
                {"outcome", outcome == ErrorCode::ok ? "OK" : std::string(to_string(outcome))},
                {"booking_id", e->booking() ? nlohmann::json(e->booking()) : nullptr}};
            entries.push_back(std::move(j));
        }
    }
    nlohmann::json j = {{"ok", true}, {"entries", entries}};
    if (r.truncated()) j["truncated"] = true;
    return j;
}

nlohmann::json stats_json(const wire::StatsReply& s) {
    nlohmann::json counts = nlohmann::json::array();
    if (s.counts()) {
        for (const wire::OpCount* c : *s.counts()) {
            counts.push_back({{"operation", str(c->operation())},
                              {"outcome", str(c->outcome())},
                              {"count", c->count()}});
        }
    }
    return {{"ok", true},
            {"uptime_s", s.uptime_s()},
            {"threads", s.threads()},
            {"slots", s.slots()},
            {"messages", s.messages()},
            {"operations", s.operations()},
            {"in_flight", s.in_flight()},
            {"retries_answered", s.retries_answered()},
            {"malformed", s.malformed()},
            {"replies_dropped", s.replies_dropped()},
            {"events_published", s.events_published()},
            {"accesses_recorded", s.accesses_recorded()},
            {"holds_expired", s.holds_expired()},
            {"durability", str(s.durability())},
            {"events_committed", s.events_committed()},
            {"journal_failed_commits", s.journal_failed_commits()},
            {"keys",
             {{"on", s.keys()},
              {"handshakes_failed", s.handshakes_failed()},
              {"keys_refused", s.keys_refused()},
              {"unlisted_refused", s.unlisted_refused()},
              {"rate_limited", s.rate_limited()},
              {"in_flight_limited", s.in_flight_limited()}}},
            {"latency_us",
             {{"p50", s.latency_us_p50()},
              {"p90", s.latency_us_p90()},
              {"p99", s.latency_us_p99()},
              {"p999", s.latency_us_p999()},
              {"max", s.latency_us_max()}}},
            {"counts", counts}};
}

}  // namespace

namespace {

nlohmann::json type_json(const wire::AppointmentType& t) {
    nlohmann::json type = {{"id", str(t.id())},
                           {"name", str(t.name())},
                           {"web_name", str(t.web_name())},
                           {"web_info", str(t.web_info())},
                           {"web_bookable", t.web_bookable()},
                           {"web_cancellable", t.web_cancellable()},
                           {"web_rebookable", t.web_rebookable()},
                           {"hide_from_patient", t.hide_from_patient()},
                           {"duration_min", t.duration_min()},
                           {"proxy", t.proxy() || str(t.name()).find("Ombud") != std::string::npos},
                           {"region_wide", t.region_wide()}};
    type["window_days"] =
        t.window_days() ? nlohmann::json(*t.window_days()) : nlohmann::json(nullptr);
    if (t.removed()) type["removed"] = true;
    return type;
}

// A unit, with the resources of `all` that are its own (none when `all` is null).
nlohmann::json unit_json(const wire::Unit& u, const wire::CatalogReply* all) {
    static constexpr const char* kinds[] = {"position", "person", "room", "equipment"};
    nlohmann::json resources = nlohmann::json::array();
    if (all != nullptr && all->resources()) {
        for (const wire::Resource* r : *all->resources()) {
            if (r->unit() != u.index()) continue;
            resources.push_back({{"id", str(r->id())},
                                 {"kind", kinds[static_cast<int>(r->kind()) & 3]},
                                 {"name", str(r->name())}});
        }
    }
    const wire::WebSettings* web = u.web();
    return {{"id", str(u.id())},
            {"name", str(u.name())},
            {"provider", {{"id", str(u.provider_id())}, {"name", str(u.provider_name())}}},
            {"web",
             {{"booking_active", web && web->booking_active()},
              {"cancel_rebook_active", web && web->cancel_rebook_active()},
              {"patient_comment", web && web->patient_comment()},
              {"terms_book", web ? str(web->terms_book()) : ""},
              {"terms_cancel_rebook", web ? str(web->terms_cancel_rebook()) : ""}}},
            {"resources", resources}};
}

}  // namespace

nlohmann::json catalog_json(const wire::CatalogReply& c) {
    nlohmann::json units = nlohmann::json::array();
    nlohmann::json types = nlohmann::json::array();
    if (c.units()) {
        for (const wire::Unit* u : *c.units()) units.push_back(unit_json(*u, &c));
    }
    if (c.appointment_types()) {
        for (const wire::AppointmentType* t : *c.appointment_types())
            types.push_back(type_json(*t));
    }
    return {{"ok", true},
            {"timezone", str(c.timezone())},
            {"hold_ttl_s", c.hold_ttl_s()},
            {"units", units},
            {"appointment_types", types}};
}

namespace {

using wire::Operation;

nlohmann::json slots_json(const Catalog& c, const Calendar& calendar, const wire::SlotList& r) {
    nlohmann::json slots = nlohmann::json::array();
    if (const auto* list = r.slots()) {
        for (const wire::Slot* s : *list)
            slots.push_back(slot_json(c, calendar, codec::from_wire(*s)));
    }
    return {{"ok", true}, {"slots", slots}};
}

nlohmann::json hold_json(const Catalog& c, const Calendar& calendar, const wire::HoldReply& h) {
    nlohmann::json j = {{"ok", true}};
    j["hold_id"] = h.hold_id();
    j["expires_at"] = calendar.format(Instant{h.expires_at()});
    if (h.slot()) j["slot"] = slot_json(c, calendar, codec::from_wire(*h.slot()));
    return j;
}

// book, rebook and cancel share the reply body; each shows its own fields of it.
nlohmann::json booking_reply_json(const Catalog& c, const Calendar& calendar, Operation op,
                                  const wire::BookingReply& b) {
    nlohmann::json j = {{"ok", true}};
    if (b.booking()) j["booking"] = booking_json(c, calendar, codec::decode_booking(*b.booking()));
    if (op == Operation::Rebook) {
        j["previous_booking_id"] = b.previous();
        j["billable"] = b.billable();
    } else if (op == Operation::Cancel) {
        j["billable"] = b.billable();
        j["returned_to_waitlist"] = b.returned_to_waitlist();
    }
    return j;
}

nlohmann::json bookings_json(const Catalog& c, const Calendar& calendar,
                             const wire::BookingList& r) {
    nlohmann::json list = nlohmann::json::array();
    if (const auto* v = r.bookings()) {
        for (const wire::Booking* b : *v) {
            list.push_back(booking_json(c, calendar, codec::decode_booking(*b)));
        }
    }
    return {{"ok", true}, {"bookings", list}};
}

nlohmann::json block_json(const wire::BlockReply& b) {
    return {{"ok", true},
            {"block_id", b.block_id()},
            {"slots_changed", b.slots_changed()},
            {"reserved_untouched", b.reserved_untouched()}};
}

// `booking`: the booking, and how it ended.
nlohmann::json booking_details_json(const Catalog& c, const Calendar& calendar,
                                    const wire::BookingDetails& d) {
    static constexpr const char* states[] = {"active", "cancelled", "rebooked"};
    const auto s = static_cast<std::size_t>(d.state());
    nlohmann::json j = {{"ok", true}, {"state", s < 3 ? states[s] : "?"}};
    if (d.booking()) j["booking"] = booking_json(c, calendar, codec::decode_booking(*d.booking()));
    if (d.state() != wire::BookingState::active) {
        BookingView ending;  // who ended it, shown as "changed by" is (R17)
        ending.channel = codec::from_wire(d.ended_channel()).value_or(Channel::staff);
        ending.actor = ActorText::from(str(d.ended_by()));
        ending.actor_name = ActorName::from(str(d.ended_by_name()));
        j["ended_at"] = calendar.format(Instant{d.ended_at()});
        j["ended_channel"] = std::string(to_string(ending.channel));
        j["ended_by"] = changed_by(ending);
        j["billable"] = d.billable();
    }
    if (d.state() == wire::BookingState::rebooked) j["rebooked_to"] = d.rebooked_to();
    return j;
}

// `waitlist add` shows its one entry, `waitlist list` all of the unit's.
nlohmann::json waitlist_reply_json(const Catalog& c, const Calendar& calendar, Operation op,
                                   const wire::WaitlistReply& r) {
    nlohmann::json list = nlohmann::json::array();
    if (const auto* v = r.entries()) {
        for (const wire::WaitlistEntry* w : *v) list.push_back(waitlist_json(c, calendar, *w));
    }
    if ((op == Operation::WaitlistAdd || op == Operation::WaitlistRemove) && list.size() == 1)
        return {{"ok", true}, {"entry", list[0]}};
    return {{"ok", true}, {"entries", list}};
}

}  // namespace

nlohmann::json result_json(const Catalog& c, const Calendar& calendar, wire::Operation op,
                           const wire::Result& r) {
    using wire::ReplyBody;
    if (r.error()) return error_json(*r.error());
    switch (r.body_type()) {
        case ReplyBody::SlotList:
            return slots_json(c, calendar, *r.body_as_SlotList());
        case ReplyBody::HoldReply:
            return hold_json(c, calendar, *r.body_as_HoldReply());
        case ReplyBody::BookingReply:
            return booking_reply_json(c, calendar, op, *r.body_as_BookingReply());
        case ReplyBody::BookingList:
            return bookings_json(c, calendar, *r.body_as_BookingList());
        case ReplyBody::BlockReply:
            return block_json(*r.body_as_BlockReply());
        case ReplyBody::WaitlistReply:
            return waitlist_reply_json(c, calendar, op, *r.body_as_WaitlistReply());
        case ReplyBody::CatalogReply:
            return catalog_json(*r.body_as_CatalogReply());
        case ReplyBody::StatsReply:
            return stats_json(*r.body_as_StatsReply());
        case ReplyBody::ClockReply:
            return {{"ok", true}, {"now", calendar.format(Instant{r.body_as_ClockReply()->now()})}};
        case ReplyBody::LogReply:
            return log_json(c, calendar, *r.body_as_LogReply());
        case ReplyBody::AuditReply:
            return audit_json(c, calendar, *r.body_as_AuditReply());
        case ReplyBody::ScheduleReply: {
            const auto* s = r.body_as_ScheduleReply();
            return {
                {"ok", true},
                {"schedule_id", s->schedule_id()},
                {op == Operation::EndSchedule ? "slots_removed" : "slots_published", s->slots()}};
        }
        case ReplyBody::TypeReply:
            return {{"ok", true},
                    {"appointment_type", type_json(*r.body_as_TypeReply()->appointment_type())}};
        case ReplyBody::UnitReply:
            return {{"ok", true}, {"unit", unit_json(*r.body_as_UnitReply()->unit(), nullptr)}};
        case ReplyBody::BookingDetails:
            return booking_details_json(c, calendar, *r.body_as_BookingDetails());
        case ReplyBody::SlotReply:
            return {
                {"ok", true},
                {"slot", slot_json(c, calendar, codec::from_wire(*r.body_as_SlotReply()->slot()))}};
        default:
            return refusal_json(ErrorCode::invalid_request, "reply",
                                "the server's reply has no body this client knows");
    }
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

namespace {

constexpr const char* ansi_red = "\x1b[31m";
constexpr const char* ansi_green = "\x1b[32m";
constexpr const char* ansi_reset = "\x1b[0m";

std::size_t display_width(const std::string& text) {  // UTF-8 characters, escapes excluded
    std::size_t n = 0;
    bool escape = false;
    for (unsigned char c : text) {
        if (escape) {
            escape = c != 'm';
        } else if (c == 0x1b) {
            escape = true;
        } else {
            n += (c & 0xC0) != 0x80;
        }
    }
    return n;
}

std::string cell_text(const nlohmann::json& v) {
    if (v.is_null()) return {};
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

}  // namespace

std::string log_table(const nlohmann::json& reply, bool color) {
    // The unit's log as its staff know it (R21): the unchanged columns plain, the values
    // before the change red (none for a new booking), after it green (none for a cancellation).
    static const std::vector<std::pair<const char*, const char*>> columns = {
        {"slot", "slot_id"}, {"resource", "resource"},  {"type", "appointment_type"},
        {"start", "start"},  {"booking", "booking_id"}, {"phone", "phone"},
        {"reason", "reason"}};
    const auto paint = [&](const std::string& text, const char* code) {
        return color && !text.empty() ? code + text + ansi_reset : text;
    };
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> head = {"status", "changed at", "changed by", "patient"};
    for (const auto& [title, key] : columns) head.push_back(title);
    head.push_back("billable");
    table.push_back(head);
    for (const nlohmann::json& row : reply.value("rows", nlohmann::json::array())) {
        std::vector<std::string> line = {cell_text(row["status"]), cell_text(row["changed_at"]),
                                         cell_text(row["changed_by"]), cell_text(row["patient"])};
        const nlohmann::json& before = row["before"];
        const nlohmann::json& after = row["after"];
        for (const auto& [title, key] : columns) {
            const std::string was =
                before.is_object() ? cell_text(before.value(key, nlohmann::json())) : std::string();
            const std::string now =
                after.is_object() ? cell_text(after.value(key, nlohmann::json())) : std::string();
            if (before.is_object() && after.is_object() && was == now) {
                line.push_back(was);  // unchanged
            } else if (!was.empty() && !now.empty()) {
                line.push_back(paint(was, ansi_red) + " " + paint(now, ansi_green));
            } else {
                line.push_back(!was.empty() ? paint(was, ansi_red) : paint(now, ansi_green));
            }
        }
        line.push_back(row.value("billable", false) ? "yes" : "no");
        table.push_back(std::move(line));
    }
    std::vector<std::size_t> width(head.size(), 0);
    for (const auto& line : table) {
        for (std::size_t i = 0; i < line.size(); ++i) {
            width[i] = std::max(width[i], display_width(line[i]));
        }
    }
    std::string out;
    for (const auto& line : table) {
        for (std::size_t i = 0; i < line.size(); ++i) {
            out += line[i];
            if (i + 1 < line.size()) out += std::string(width[i] - display_width(line[i]) + 2, ' ');
        }
        out += '\n';
    }
    return out;
}

}  // namespace slotmatch::tools
