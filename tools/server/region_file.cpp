#include "region_file.hpp"

#include <cstdio>
#include <ostream>

namespace slotmatch::tools {

namespace {

std::string hours(int minutes) {
    char text[24];
    std::snprintf(text, sizeof text, "%02d:%02d", minutes / 60, minutes % 60);
    return text;
}

// Applies one change, draining the engine's events while they have no room.
Outcome<ScheduleView> apply(Engine& engine, const SeedChange& change, bool accept_orphans,
                            const std::function<void()>& make_room,
                            std::vector<BookingId>& in_the_way) {
    Outcome<ScheduleView> applied;
    for (int attempt = 0; attempt < 3; ++attempt) {
        applied = engine.apply_seed_change(change, accept_orphans, in_the_way);
        if (applied.code != ErrorCode::overloaded) break;
        make_room();
    }
    return applied;
}

void print(std::ostream& out, const Catalog& catalog, const SeedChange& c,
           const ScheduleView& result) {
    const std::string day = Calendar::format_day(c.day);
    switch (c.kind) {
        case SeedChange::Kind::record_entity:
            break;  // counted, and printed together
        case SeedChange::Kind::settings:
            out << "slotmatchd: region file: changed the settings of "
                << (c.entity == EntityKind::type ? "appointment type " + catalog.types[c.index].id
                                                 : "unit " + catalog.units[c.index].id)
                << " (R9: in force at once)\n";
            break;
        case SeedChange::Kind::publish:
            out << "slotmatchd: region file: published schedule " << result.id.value << " ("
                << describe(catalog, c.schedule) << "): " << result.slots << " slots\n";
            break;
        case SeedChange::Kind::extend:
            out << "slotmatchd: region file: extended schedule " << c.id.value << " ("
                << describe(catalog, c.schedule) << ") to " << day << ": " << result.slots
                << " slots in all\n";
            break;
        case SeedChange::Kind::end:
            out << "slotmatchd: region file: ended schedule " << c.id.value << " ("
                << describe(catalog, c.schedule) << ") after " << day << ": " << result.removed
                << " free slots removed";
            if (c.replaced_by.value != 0) {
                out << "; schedule " << c.replaced_by.value << " takes over its time, and its "
                    << "slots there stay, with their bookings";
            }
            out << '\n';
            break;
        case SeedChange::Kind::day_count:
            out << "slotmatchd: region file: schedule " << c.id.value << " ("
                << describe(catalog, c.schedule) << ") shows its slots on the web "
                << (c.schedule.window_days > 0
                        ? std::to_string(c.schedule.window_days) + " days ahead"
                        : std::string("as its appointment type's day count says"))
                << " (R10)\n";
            break;
    }
}

}  // namespace

std::string describe(const Catalog& catalog, const Schedule& s) {
    static constexpr const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    std::string weekdays;
    for (int d = 0; d < 7; ++d) {
        if ((s.weekdays & (1u << d)) == 0) continue;
        if (!weekdays.empty()) weekdays += ',';
        weekdays += days[d];
    }
    return catalog.resource(s.resource).id + " " + catalog.type(s.type).id + " " + weekdays + " " +
           hours(s.from_min) + "-" + hours(s.to_min) + " " +
           Calendar::format_day(s.valid_from_day) + ".." + Calendar::format_day(s.valid_to_day) +
           (s.window_days > 0 ? ", " + std::to_string(s.window_days) + " days" : std::string());
}

int apply_region_file(Engine& engine, bool accept_orphans, const std::function<void()>& make_room,
                      std::ostream& out, std::ostream& err) {
    const bool unrecorded = engine.seed_unrecorded();
    std::string why;
    std::vector<std::string> recorded;
    if (!engine.record_seed(make_room, why, &recorded)) {
        err << "slotmatchd: cannot record the region file: " << why << '\n';
        return 1;
    }
    if (unrecorded) {
        out << "slotmatchd: region file: " << engine.schedules().size()
            << " schedules recorded as the store's first publication (" << engine.slot_count()
            << " slots)\n";
    } else {
        for (const std::string& entity : recorded) {
            out << "slotmatchd: region file: recorded " << entity << " (new to the store)\n";
        }
    }
    const std::vector<SeedChange> changes = engine.seed_changes();
    // Ends that bookings stand in the way of are refused before anything is applied, so that
    // a refused start leaves the store as it was.
    for (const SeedChange& change : changes) {
        std::vector<BookingId> in_the_way;
        if (accept_orphans || !engine.seed_end_in_the_way(change, in_the_way)) continue;
        err << "slotmatchd: the region file cannot be applied: ending schedule " << change.id.value
            << " (" << describe(engine.catalog(), change.schedule)
            << "): booked or held slots lie after that day; bookings after "
            << Calendar::format_day(change.day) << ":";
        for (BookingId b : in_the_way) err << ' ' << b.value;
        err << " (move or cancel them, or start with --accept-orphans to keep them as bookings "
               "of slots no longer offered)\n";
        return 1;
    }
    std::size_t entities = 0;
    for (const SeedChange& change : changes) {
        std::vector<BookingId> in_the_way;
        const auto applied = apply(engine, change, accept_orphans, make_room, in_the_way);
        if (!applied.ok()) {
            err << "slotmatchd: the region file cannot be applied: "
                << (change.kind == SeedChange::Kind::end         ? "ending"
                    : change.kind == SeedChange::Kind::day_count ? "changing the day count of"
                    : change.kind == SeedChange::Kind::extend    ? "extending"
                                                                 : "publishing")
                << (change.kind == SeedChange::Kind::publish
                        ? std::string(" a new schedule")
                        : " schedule " + std::to_string(change.id.value))
                << " ("
                << (change.kind == SeedChange::Kind::settings
                        ? std::string("settings")
                        : describe(engine.catalog(), change.schedule))
                << "): " << applied.message;
            if (!in_the_way.empty()) {
                err << "; bookings after " << Calendar::format_day(change.day) << ":";
                for (BookingId b : in_the_way) err << ' ' << b.value;
                err << " (move or cancel them, or start with --accept-orphans to keep them as "
                       "bookings of slots no longer offered)";
            }
            err << '\n';
            return 1;
        }
        entities += change.kind == SeedChange::Kind::record_entity;
        print(out, engine.catalog(), change, applied.value);
        if (!in_the_way.empty()) {  // accepted: staff find them by these ids (booking --booking)
            out << "slotmatchd: region file: kept " << in_the_way.size() << " bookings of schedule "
                << change.id.value << " as orphans (their slots are no longer offered):";
            for (BookingId b : in_the_way) out << ' ' << b.value;
            out << '\n';
        }
    }
    if (entities > 0) {
        out << "slotmatchd: region file: " << entities
            << " new units, resources or appointment types recorded\n";
    }
    out.flush();
    return 0;
}

}  // namespace slotmatch::tools
