// The region file as the seed (docs/engine.md, "The region file as the seed"): at a start on a
// store, what the region file lays out is recorded on a new store, and what it changes against
// the seed the store holds (schedules added, extended, shortened or gone; new units, resources
// and types) is applied as administration events before anyone is answered, each one printed.
#pragma once

#include <functional>
#include <iosfwd>
#include <slotmatch/engine.hpp>
#include <string>

namespace slotmatch::tools {

// Returns 0, or 1 after saying why on `err` (an end that would take booked slots, without
// `accept_orphans`; events the journal cannot take).
int apply_region_file(Engine& engine, bool accept_orphans, const std::function<void()>& make_room,
                      std::ostream& out, std::ostream& err);

// "lerum-lak-1 lerum-nybesok mon,tue 08:00-12:00 2026-03-01..2026-06-30"
std::string describe(const Catalog& catalog, const Schedule& s);

}  // namespace slotmatch::tools
