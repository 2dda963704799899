// Live settings (R9): an appointment type's flags, web texts and day count, and a unit's case
// types, patient comment and terms texts, changed while the engine serves. A change is a new,
// immutable settings record, kept for as long as the engine runs, that a pointer per type or
// unit is swung to: a request reads that pointer once and sees the settings before the change
// or after it, whole, never a mix; the change is in force for the next request. The booking
// paths take no lock for it.
#include "engine_records.hpp"

namespace slotmatch {

const ConfigChange& Engine::install(ConfigChange c) {
    configs_.push_back(std::move(c));
    const ConfigChange& kept = configs_.back();
    if (kept.entity == EntityKind::type) {
        SM_ASSERT(kept.index < types_room_);
        types_now_[kept.index].store(&kept.type, std::memory_order_release);
    } else if (kept.entity == EntityKind::unit) {
        SM_ASSERT(kept.index < catalog_.units.size());
        webs_now_[kept.index].store(&kept.unit, std::memory_order_release);
    }
    return kept;
}

// R8: region-wide and proxy types are configured centrally; a unit's staff change its own.
bool Engine::may_change_type(const Actor& actor, const AppointmentType& t) const {
    if (actor.channel != Channel::staff) return false;
    if (actor.region_admin) return true;
    return !t.region_wide && !t.is_proxy() && staff_of(actor, t.unit);
}

namespace {

// Applies `c` to `t` (R6: hidden clears the flags); a refusal names the field.
Outcome<bool> apply(const TypeChange& c, AppointmentType& t) {
    using Out = Outcome<bool>;
    if (c.web_name) {
        if (c.web_name->size() > web_name_bytes_max) {
            return Out::refuse(ErrorCode::invalid_request, "web_name", "too long");
        }
        t.web_name = *c.web_name;
    }
    if (c.web_info) {
        if (c.web_info->size() > web_text_bytes_max) {
            return Out::refuse(ErrorCode::invalid_request, "web_info", "too long");
        }
        t.web_info = *c.web_info;
    }
    if (c.window_days) {
        if (*c.window_days && (**c.window_days < 1 || **c.window_days > window_days_max)) {
            return Out::refuse(ErrorCode::invalid_request, "window_days", "1 to 366 days");
        }
        t.window_days = *c.window_days;
    }
    if (c.hide_from_patient) t.hide_from_patient = *c.hide_from_patient;
    const bool raises = (c.web_bookable && *c.web_bookable) ||
                        (c.web_cancellable && *c.web_cancellable) ||
                        (c.web_rebookable && *c.web_rebookable);
    if (t.hide_from_patient && raises) {
        return Out::refuse(ErrorCode::invalid_request, "hide_from_patient",
                           "R6: a type hidden from patients has no web flags; unhide it first");
    }
    if (c.web_bookable) t.web_bookable = *c.web_bookable;
    if (c.web_cancellable) t.web_cancellable = *c.web_cancellable;
    if (c.web_rebookable) t.web_rebookable = *c.web_rebookable;
    if (t.hide_from_patient) t.web_bookable = t.web_cancellable = t.web_rebookable = false;  // R6
    if (t.is_proxy() && !(t.web_bookable && t.web_cancellable && t.web_rebookable)) {
        return Out::refuse(ErrorCode::invalid_request, "web_bookable",
                           "R8: a proxy type keeps all three web flags");
    }
    return {};
}

}  // namespace

Outcome<AppointmentType> Engine::set_type(const Actor& actor, TypeIdx type,
                                          const TypeChange& change) {
    using Out = Outcome<AppointmentType>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (type.value >= type_count()) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "unknown appointment type");
    }
    std::lock_guard admin(admin_mutex_);
    AppointmentType next = type_now(type);
    if (next.removed) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "the appointment type was removed from the region");
    }
    if (auto bad = apply(change, next); !bad.ok()) return Out::refuse(bad);
    if (!may_change_type(actor, next)) {
        return Out::refuse(ErrorCode::unauthorized, "appointment_type",
                           "a local type: its unit's staff; a region-wide or proxy type: a "
                           "region administrator (R8)");
    }
    const ConfigChange& kept = install({EntityKind::type, type.value, false, next, {}});
    Event& e = reservation.event();
    stamp(e, actor, EventKind::type_changed, next.region_wide ? no_unit : next.unit);
    e.type = type;
    e.config = &kept;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, next};
}

Outcome<BlockResult> Engine::remove_type_everywhere(const Actor& actor, TypeIdx type) {
    using Out = Outcome<BlockResult>;
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (type.value >= type_count()) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "unknown appointment type");
    }
    if (actor.channel != Channel::staff || !actor.region_admin) {
        return Out::refuse(ErrorCode::unauthorized, "appointment_type",
                           "only a region administrator takes a type out of the region");
    }
    // Out of every schedule first (R14: its free slots disappear at once), then out of the
    // region, so that nothing schedules or books it again: all of it or nothing (the events'
    // room is taken first, and the admin mutex held throughout).
    std::vector<UnitIdx> units;
    const AppointmentType& gone_type = type_now(type);  // its unit: set before its index is valid
    for (std::uint32_t u = 0; u < catalog_.units.size(); ++u) {
        if (gone_type.usable_in(UnitIdx{u})) units.push_back(UnitIdx{u});
    }
    Reservation reservation(*events_, units.size() + 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    std::lock_guard admin(admin_mutex_);
    BlockResult total;
    for (UnitIdx u : units) {
        Actor in_unit = actor;
        in_unit.has_unit = true;
        in_unit.unit = u;
        const BlockResult removed = take_type_off(in_unit, u, type, reservation.event());
        reservation.publish();
        total.slots_changed += removed.slots_changed;
        total.reserved_untouched += removed.reserved_untouched;
    }
    AppointmentType gone = type_now(type);
    gone.removed = true;
    gone.web_bookable = gone.web_cancellable = gone.web_rebookable = false;
    const ConfigChange& kept = install({EntityKind::type, type.value, false, gone, {}});
    Event& e = reservation.event();
    stamp(e, actor, EventKind::type_changed, gone.region_wide ? no_unit : gone.unit);
    e.type = type;
    e.config = &kept;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, total};
}

// Readers see the new type through a settings pointer of its own, set before the count that makes
// its index valid, and then through a new copy of the catalog (a type found by id there always
// has a valid index; an index below the count may not be in the copy a reader holds yet, so
// the engine reads a type's facts from type_now). The copies handed out stay valid.
Outcome<TypeIdx> Engine::add_type(const Actor& actor, const NewType& n) {
    using Out = Outcome<TypeIdx>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    // Checks in ARCHITECTURE.md's order (room, the request's fields, who asks), under the
    // admin mutex: the id must still be free when the type is added.
    std::lock_guard admin(admin_mutex_);
    const Catalog& now = catalog();
    const TypeIdx index{static_cast<std::uint32_t>(now.types.size())};
    if (index.value >= types_room_) {
        return Out::refuse(ErrorCode::overloaded, "appointment_type",
                           "this run has added as many appointment types as it has room for; "
                           "nothing was changed (a restart makes room again)");
    }
    if (n.id.empty() || !ReasonText::fits(n.id)) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "the new type's id: 1 to 120 bytes");
    }
    if (n.name.empty() || n.name.size() > web_name_bytes_max) {
        return Out::refuse(ErrorCode::invalid_request, "name",
                           "the internal name (R1): 1 to 200 bytes");
    }
    if (n.duration_min < 1 || n.duration_min > slot_duration_min_max) {
        return Out::refuse(ErrorCode::invalid_request, "duration_min", "1 to 480 minutes");
    }
    if (n.unit && n.unit->value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    AppointmentType t;
    t.id = n.id;
    t.name = n.name;
    t.duration_min = n.duration_min;
    t.region_wide = !n.unit;
    if (n.unit) t.unit = *n.unit;
    if (t.is_proxy() && !t.region_wide) {
        return Out::refuse(ErrorCode::invalid_request, "unit",
                           "R8: a proxy type (\"Ombud\" in its name) is region-wide: give no unit");
    }
    if (auto bad = apply(n.settings, t); !bad.ok()) return Out::refuse(bad);
    if (now.find_type(t.id)) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "the region has an appointment type with this id");
    }
    if (!may_change_type(actor, t)) {
        return Out::refuse(ErrorCode::unauthorized, n.unit ? "unit" : "appointment_type",
                           "a local type: its unit's staff; a region-wide or proxy type: a "
                           "region administrator (R8)");
    }
    catalogs_.push_back(now);
    catalogs_.back().add_type(t);
    const ConfigChange& kept = install({EntityKind::type, index.value, false, t, {}, true});
    Event& e = reservation.event();
    stamp(e, actor, EventKind::entity_recorded, t.region_wide ? no_unit : t.unit);
    e.entity = EntityKind::type;
    e.type = index;
    e.reason = ReasonText::from(t.id);
    e.config = &kept;
    // Before anything can name the type, so that on this lane its events come after this one
    // (with --threads N another lane's may be numbered first: recovery applies a type's record
    // before its changes; docs/engine.md, "Known limits").
    reservation.publish();
    type_count_.store(index.value + 1, std::memory_order_release);
    catalog_view_.store(&catalogs_.back(), std::memory_order_release);
    return {ErrorCode::ok, {}, {}, index};
}

Outcome<WebSettings> Engine::set_unit(const Actor& actor, UnitIdx unit, const UnitChange& c) {
    using Out = Outcome<WebSettings>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (unit.value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    if ((c.terms_book && c.terms_book->size() > web_text_bytes_max) ||
        (c.terms_cancel_rebook && c.terms_cancel_rebook->size() > web_text_bytes_max)) {
        return Out::refuse(ErrorCode::invalid_request, "terms", "too long");
    }
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "unit", "only the unit's staff");
    }
    std::lock_guard admin(admin_mutex_);
    WebSettings next = web_now(unit);
    if (c.booking_active) next.booking_active = *c.booking_active;
    if (c.cancel_rebook_active) next.cancel_rebook_active = *c.cancel_rebook_active;
    if (c.patient_comment) next.patient_comment = *c.patient_comment;
    if (c.terms_book) next.terms_book = *c.terms_book;
    if (c.terms_cancel_rebook) next.terms_cancel_rebook = *c.terms_cancel_rebook;
    const ConfigChange& kept = install({EntityKind::unit, unit.value, false, {}, next});
    Event& e = reservation.event();
    stamp(e, actor, EventKind::unit_changed, unit);
    e.config = &kept;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, next};
}

AppointmentType with_settings(AppointmentType base, const AppointmentType& settings) {
    base.web_name = settings.web_name;
    base.web_info = settings.web_info;
    base.web_bookable = settings.web_bookable;
    base.web_cancellable = settings.web_cancellable;
    base.web_rebookable = settings.web_rebookable;
    base.hide_from_patient = settings.hide_from_patient;
    base.window_days = settings.window_days;
    base.removed = settings.removed;
    return base;
}

AppointmentType merge_seed(AppointmentType now, const AppointmentType& old_seed,
                           const AppointmentType& new_seed) {
    const auto take = [](auto& field, const auto& was, const auto& is) {
        if (was != is) field = is;
    };
    take(now.web_name, old_seed.web_name, new_seed.web_name);
    take(now.web_info, old_seed.web_info, new_seed.web_info);
    take(now.web_bookable, old_seed.web_bookable, new_seed.web_bookable);
    take(now.web_cancellable, old_seed.web_cancellable, new_seed.web_cancellable);
    take(now.web_rebookable, old_seed.web_rebookable, new_seed.web_rebookable);
    take(now.hide_from_patient, old_seed.hide_from_patient, new_seed.hide_from_patient);
    take(now.window_days, old_seed.window_days, new_seed.window_days);
    if (now.hide_from_patient) now.web_bookable = now.web_cancellable = now.web_rebookable = false;
    return now;
}

WebSettings merge_seed(WebSettings now, const WebSettings& old_seed, const WebSettings& new_seed) {
    const auto take = [](auto& field, const auto& was, const auto& is) {
        if (was != is) field = is;
    };
    take(now.booking_active, old_seed.booking_active, new_seed.booking_active);
    take(now.cancel_rebook_active, old_seed.cancel_rebook_active, new_seed.cancel_rebook_active);
    take(now.patient_comment, old_seed.patient_comment, new_seed.patient_comment);
    take(now.terms_book, old_seed.terms_book, new_seed.terms_book);
    take(now.terms_cancel_rebook, old_seed.terms_cancel_rebook, new_seed.terms_cancel_rebook);
    return now;
}

// The region file changed a type's or unit's settings: the fields it changed take its values on
// top of what they are now; the event carries the new seed (recovery merges the same way).
Outcome<ScheduleView> Engine::apply_seed_settings(const SeedChange& c) {
    using Out = Outcome<ScheduleView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    std::lock_guard admin(admin_mutex_);
    const bool type = c.entity == EntityKind::type;
    configs_.push_back({c.entity, c.index, true, type ? catalog_.types[c.index] : AppointmentType{},
                        type ? WebSettings{} : catalog_.units[c.index].web});
    const ConfigChange& seed = configs_.back();
    ConfigChange now{c.entity, c.index, false, {}, {}};
    UnitIdx unit{c.index};
    if (type) {
        now.type = merge_seed(type_now(TypeIdx{c.index}), seed_types_[c.index], seed.type);
        seed_types_[c.index] = seed.type;
        unit = seed.type.region_wide ? no_unit : seed.type.unit;
    } else {
        now.unit = merge_seed(web_now(UnitIdx{c.index}), seed_webs_[c.index], seed.unit);
        seed_webs_[c.index] = seed.unit;
    }
    install(std::move(now));
    Event& e = reservation.event();
    stamp(e, seed_actor(unit == no_unit ? UnitIdx{0} : unit),
          type ? EventKind::type_changed : EventKind::unit_changed, unit);
    if (type) e.type = TypeIdx{c.index};
    e.config = &seed;
    reservation.publish();
    return {};
}

Catalog Engine::catalog_now() const {
    Catalog c = catalog();
    for (std::uint32_t t = 0; t < c.types.size(); ++t) c.types[t] = type_now(TypeIdx{t});
    for (std::uint32_t u = 0; u < c.units.size(); ++u) c.units[u].web = web_now(UnitIdx{u});
    return c;
}

}  // namespace slotmatch
