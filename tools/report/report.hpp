// Shared by the programs: a region's lint and summary for people, and engine replies as the JSON
// documents of ARCHITECTURE.md ("Reply shapes").
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <slotmatch/codec.hpp>
#include <slotmatch/config.hpp>
#include <slotmatch/engine.hpp>
#include <string>

namespace slotmatch::tools {

// One line per diagnostic, then "N errors, M warnings".
void print_diagnostics(std::ostream& out, const LoadResult& loaded);
// Units, appointment types and slots per unit, as a table.
void print_region_summary(std::ostream& out, const Engine& engine);
// A state hash as the programs print it: 0x and 16 hex digits.
std::string hex(std::uint64_t v);

// Engine views in the documented shapes; names come from the catalog, times are written in
// the region's zone. The server's replies are decoded back into these views (codec), so the
// CLI and the embedded demo print the same JSON.
nlohmann::json slot_json(const Catalog& catalog, const Calendar& calendar, const SlotView& slot);
nlohmann::json booking_json(const Catalog& catalog, const Calendar& calendar,
                            const BookingView& booking);
inline nlohmann::json slot_json(const Engine& engine, const SlotView& slot) {
    return slot_json(engine.catalog(), engine.calendar(), slot);
}
inline nlohmann::json booking_json(const Engine& engine, const BookingView& booking) {
    return booking_json(engine.catalog(), engine.calendar(), booking);
}
// One operation's result from a ReplyMessage as the CLI prints it; `op` is the operation
// that asked (book and rebook share a reply type but not a shape).
nlohmann::json result_json(const Catalog& catalog, const Calendar& calendar, wire::Operation op,
                           const wire::Result& result);
// `catalog`: the reply as it came (it may be one unit's part of the region).
nlohmann::json catalog_json(const wire::CatalogReply& catalog);
nlohmann::json refusal_json(ErrorCode code, std::string_view field, std::string_view message);
template <typename T>
nlohmann::json refusal_json(const Outcome<T>& o) {
    return refusal_json(o.code, o.field, o.message);
}

// A `log` reply (result_json's shape) as a terminal table: status, changed at, changed by,
// patient, then one column per booking value; with `color`, before values red and after values
// green (ANSI), unchanged ones plain (R21).
std::string log_table(const nlohmann::json& reply, bool color);

// "--clock fixed:2026-03-02T08:00:00+01:00" → the instant; nullopt with a message otherwise.
std::optional<Instant> parse_fixed_clock(const Calendar& calendar, const std::string& flag,
                                         std::string& why);

}  // namespace slotmatch::tools
