// Administration over the wire (ARCHITECTURE.md, "Administration"): the unit's staff publish,
// extend and end schedules and add, retype and remove single slots (R13, R14). Each is an
// event in the journal and takes effect at once; in persisted mode its reply waits until the
// event is durable, like any change.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "answers.hpp"
#include "service.hpp"

namespace slotmatch::tools {

namespace fb = flatbuffers;
using answers::accepted;
using answers::refused;
using Answer = Service::Answer;

namespace {

std::string_view text(const fb::String* s) {
    return s ? s->string_view() : std::string_view{};
}

// "mon", "tue", ... as the config spells them: bit 0 = Monday.
Outcome<std::uint8_t> weekdays_of(const fb::Vector<fb::Offset<fb::String>>* names) {
    static constexpr std::array<std::string_view, 7> days = {"mon", "tue", "wed", "thu",
                                                             "fri", "sat", "sun"};
    std::uint8_t mask = 0;
    for (const fb::String* name : *names) {
        const auto it = std::find(days.begin(), days.end(), text(name));
        if (it == days.end()) {
            return Outcome<std::uint8_t>::refuse(ErrorCode::invalid_request, "weekdays",
                                                 "weekdays are mon, tue, wed, thu, fri, sat, sun");
        }
        mask = static_cast<std::uint8_t>(mask | 1u << (it - days.begin()));
    }
    return {ErrorCode::ok, {}, {}, mask};
}

// Local "HH:MM" as minutes after midnight (24:00 is the end of the day).
Outcome<int> minutes_of(const fb::String* s, std::string_view field) {
    const std::string_view t = text(s);
    const bool shaped = t.size() == 5 && t[2] == ':' && std::isdigit(t[0]) && std::isdigit(t[1]) &&
                        std::isdigit(t[3]) && std::isdigit(t[4]);
    const int h = shaped ? (t[0] - '0') * 10 + (t[1] - '0') : -1;
    const int m = shaped ? (t[3] - '0') * 10 + (t[4] - '0') : -1;
    if (!shaped || m > 59 || h > 24 || (h == 24 && m != 0)) {
        return Outcome<int>::refuse(ErrorCode::invalid_request, field, "a local time HH:MM");
    }
    return {ErrorCode::ok, {}, {}, h * 60 + m};
}

Outcome<LocalDay> day_of(const fb::String* s, std::string_view field) {
    const auto day = Calendar::parse_day(text(s));
    if (!day)
        return Outcome<LocalDay>::refuse(ErrorCode::invalid_request, field, "a day YYYY-MM-DD");
    return {ErrorCode::ok, {}, {}, *day};
}

fb::Offset<wire::ScheduleReply> schedule_reply(fb::FlatBufferBuilder& b, const ScheduleView& s,
                                               std::size_t slots) {
    return wire::CreateScheduleReply(b, s.id.value, slots);
}

fb::Offset<wire::SlotReply> slot_reply(fb::FlatBufferBuilder& b, const SlotView& v) {
    const wire::Slot slot = codec::to_wire(v);
    return wire::CreateSlotReply(b, &slot);
}

}  // namespace

Answer Service::administer(const wire::Op& op, const Actor& actor, fb::FlatBufferBuilder& b) {
    switch (op.body_type()) {
        case wire::Operation::PublishSchedule:
            return publish_schedule(*op.body_as_PublishSchedule(), actor, b);
        case wire::Operation::ExtendSchedule:
            return extend_schedule(*op.body_as_ExtendSchedule(), actor, b);
        case wire::Operation::EndSchedule:
            return end_schedule(*op.body_as_EndSchedule(), actor, b);
        case wire::Operation::AddSlot:
            return add_slot(*op.body_as_AddSlot(), actor, b);
        case wire::Operation::SetSlotType:
            return set_slot_type(*op.body_as_SetSlotType(), actor, b);
        case wire::Operation::SetType:
            return set_type(*op.body_as_SetType(), actor, b);
        case wire::Operation::AddType:
            return add_type(*op.body_as_AddType(), actor, b);
        case wire::Operation::RemoveType:
            return remove_type(*op.body_as_RemoveType(), actor, b);
        case wire::Operation::SetUnit:
            return set_unit(*op.body_as_SetUnit(), actor, b);
        case wire::Operation::RemoveSlot: {
            const auto removed =
                engine_.remove_slot(actor, SlotId{op.body_as_RemoveSlot()->slot()});
            if (!removed.ok()) return refused(b, removed);
            return accepted(b, slot_reply(b, removed.value));
        }
        default:
            return refused(b, ErrorCode::invalid_request, "op", "unknown operation");
    }
}

Answer Service::publish_schedule(const wire::PublishSchedule& r, const Actor& actor,
                                 fb::FlatBufferBuilder& b) {
    const Catalog& catalog = engine_.catalog();
    const auto unit = catalog.find_unit(r.unit()->str());
    if (!unit) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    const auto resource = catalog.find_resource(r.resource()->str());
    if (!resource || catalog.resource(*resource).unit != *unit) {
        return refused(b, ErrorCode::invalid_request, "resource", "no resource of the unit");
    }
    const auto type = catalog.find_type(r.appointment_type()->str());
    if (!type) {
        return refused(b, ErrorCode::invalid_request, "appointment_type",
                       "no appointment type with this id");
    }
    const auto weekdays = weekdays_of(r.weekdays());
    if (!weekdays.ok()) return refused(b, weekdays);
    const auto from = minutes_of(r.from(), "from");
    if (!from.ok()) return refused(b, from);
    const auto to = minutes_of(r.to(), "to");
    if (!to.ok()) return refused(b, to);
    const auto valid_from = day_of(r.valid_from(), "valid_from");
    if (!valid_from.ok()) return refused(b, valid_from);
    const auto valid_to = day_of(r.valid_to(), "valid_to");
    if (!valid_to.ok()) return refused(b, valid_to);
    if (r.window_days() < 0 || r.window_days() > window_days_max) {
        return refused(b, ErrorCode::invalid_request, "window_days",
                       "1 to 366 days, or 0 for the appointment type's");
    }
    const Schedule s{*resource,      *type,
                     weekdays.value, from.value,
                     to.value,       valid_from.value,
                     valid_to.value, static_cast<std::int16_t>(r.window_days())};
    const auto published = engine_.publish_schedule(actor, s);
    if (!published.ok()) return refused(b, published);
    return accepted(b, schedule_reply(b, published.value, published.value.slots));
}

Answer Service::extend_schedule(const wire::ExtendSchedule& r, const Actor& actor,
                                fb::FlatBufferBuilder& b) {
    const auto valid_to = day_of(r.valid_to(), "valid_to");
    if (!valid_to.ok()) return refused(b, valid_to);
    const ScheduleId id{r.schedule()};
    const auto before = engine_.schedule(id);
    const auto extended = engine_.extend_schedule(actor, id, valid_to.value);
    if (!extended.ok()) return refused(b, extended);
    // The schedule existed before, since its extension was accepted (schedules are never
    // unpublished); extensions are serialised, so the difference is this one's slots.
    const std::size_t had = before ? before->slots : 0;
    return accepted(b, schedule_reply(b, extended.value, extended.value.slots - had));
}

Answer Service::end_schedule(const wire::EndSchedule& r, const Actor& actor,
                             fb::FlatBufferBuilder& b) {
    const auto on = day_of(r.on(), "on");
    if (!on.ok()) return refused(b, on);
    std::vector<BookingId> in_the_way;
    const auto ended =
        engine_.end_schedule(actor, ScheduleId{r.schedule()}, on.value, false, in_the_way);
    if (!ended.ok()) {
        if (in_the_way.empty()) return refused(b, ended);
        // The refusal names the bookings in the way, so that staff can move them first.
        std::string why = std::string(ended.message) + "; bookings:";
        for (BookingId booking : in_the_way) {
            why += ' ';
            why += std::to_string(booking.value);
        }
        return refused(b, ended.code, ended.field, why);
    }
    return accepted(b, schedule_reply(b, ended.value, ended.value.removed));
}

Answer Service::add_slot(const wire::AddSlot& r, const Actor& actor, fb::FlatBufferBuilder& b) {
    const Catalog& catalog = engine_.catalog();
    const auto resource = catalog.find_resource(r.resource()->str());
    if (!resource)
        return refused(b, ErrorCode::invalid_request, "resource", "no resource with this id");
    const auto type = catalog.find_type(r.appointment_type()->str());
    if (!type) {
        return refused(b, ErrorCode::invalid_request, "appointment_type",
                       "no appointment type with this id");
    }
    const auto start = codec::decode_time(r.start(), engine_.calendar(), false, "start");
    if (!start.ok()) return refused(b, start);
    const auto added = engine_.publish_slot(actor, *resource, *type, start.value);
    if (!added.ok()) return refused(b, added);
    return accepted(b, slot_reply(b, added.value));
}

Answer Service::set_slot_type(const wire::SetSlotType& r, const Actor& actor,
                              fb::FlatBufferBuilder& b) {
    const auto type = engine_.catalog().find_type(r.appointment_type()->str());
    if (!type) {
        return refused(b, ErrorCode::invalid_request, "appointment_type",
                       "no appointment type with this id");
    }
    const auto changed = engine_.change_slot_type(actor, SlotId{r.slot()}, *type);
    if (!changed.ok()) return refused(b, changed);
    return accepted(b, slot_reply(b, changed.value));
}

namespace {

// A text field of a settings change, checked (UTF-8, bounded) into `out` when it is present.
Outcome<bool> take_text(const fb::String* given, std::size_t bytes_max, std::string_view field,
                        std::optional<std::string>& out) {
    if (given == nullptr) return {};
    const auto ok = codec::check_text(given->string_view(), bytes_max, field, "too long");
    if (ok.ok()) out = given->str();
    return ok;
}

// An appointment type's web texts and flags from a SetType or AddType (the texts checked).
template <typename Request>
Outcome<bool> take_web_settings(const Request& r, TypeChange& c) {
    if (auto bad = take_text(r.web_name(), web_name_bytes_max, "web_name", c.web_name); !bad.ok()) {
        return bad;
    }
    if (auto bad = take_text(r.web_info(), web_text_bytes_max, "web_info", c.web_info); !bad.ok()) {
        return bad;
    }
    c.web_bookable = r.web_bookable();
    c.web_cancellable = r.web_cancellable();
    c.web_rebookable = r.web_rebookable();
    c.hide_from_patient = r.hide_from_patient();
    return {};
}

}  // namespace

Answer Service::set_type(const wire::SetType& r, const Actor& actor, fb::FlatBufferBuilder& b) {
    const auto type = engine_.catalog().find_type(r.appointment_type()->str());
    if (!type) {
        return refused(b, ErrorCode::invalid_request, "appointment_type",
                       "no appointment type with this id");
    }
    TypeChange c;
    if (auto bad = take_web_settings(r, c); !bad.ok()) return refused(b, bad);
    if (r.window_days()) {
        c.window_days = *r.window_days() == 0 ? std::optional<int>() : *r.window_days();
    }
    const auto changed = engine_.set_type(actor, *type, c);
    if (!changed.ok()) return refused(b, changed);
    return accepted(b, wire::CreateTypeReply(b, codec::encode_type(b, *type, changed.value)));
}

Answer Service::add_type(const wire::AddType& r, const Actor& actor, fb::FlatBufferBuilder& b) {
    NewType n;
    std::optional<std::string> id, name;
    if (auto bad = take_text(r.appointment_type(), ReasonText::capacity(), "appointment_type", id);
        !bad.ok()) {
        return refused(b, bad);
    }
    if (auto bad = take_text(r.name(), web_name_bytes_max, "name", name); !bad.ok()) {
        return refused(b, bad);
    }
    n.id = id.value_or("");
    n.name = name.value_or("");
    n.duration_min = r.duration_min();
    if (r.unit() != nullptr && r.unit()->size() > 0) {
        n.unit = engine_.catalog().find_unit(r.unit()->str());
        if (!n.unit) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    }
    TypeChange& c = n.settings;
    if (auto bad = take_web_settings(r, c); !bad.ok()) return refused(b, bad);
    if (r.window_days() != 0) c.window_days = r.window_days();
    const auto added = engine_.add_type(actor, n);
    if (!added.ok()) return refused(b, added);
    return accepted(b, wire::CreateTypeReply(
                           b, codec::encode_type(b, added.value, engine_.type_now(added.value))));
}

// Staff: out of their unit's schedule (R14); a region-admin: out of the region.
Answer Service::remove_type(const wire::RemoveType& r, const Actor& actor,
                            fb::FlatBufferBuilder& b) {
    const auto type = engine_.catalog().find_type(r.appointment_type()->str());
    if (!type) {
        return refused(b, ErrorCode::invalid_request, "appointment_type",
                       "no appointment type with this id");
    }
    const auto removed =
        actor.region_admin
            ? engine_.remove_type_everywhere(actor, *type)
            : engine_.remove_type(actor, actor.has_unit ? actor.unit : UnitIdx{0}, *type);
    if (!removed.ok()) return refused(b, removed);
    return accepted(b, wire::CreateBlockReply(b, 0, removed.value.slots_changed,
                                              removed.value.reserved_untouched));
}

Answer Service::set_unit(const wire::SetUnit& r, const Actor& actor, fb::FlatBufferBuilder& b) {
    const auto unit = engine_.catalog().find_unit(r.unit()->str());
    if (!unit) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    UnitChange c;
    c.booking_active = r.booking_active();
    c.cancel_rebook_active = r.cancel_rebook_active();
    c.patient_comment = r.patient_comment();
    if (auto bad = take_text(r.terms_book(), web_text_bytes_max, "terms_book", c.terms_book);
        !bad.ok()) {
        return refused(b, bad);
    }
    if (auto bad = take_text(r.terms_cancel_rebook(), web_text_bytes_max, "terms_cancel_rebook",
                             c.terms_cancel_rebook);
        !bad.ok()) {
        return refused(b, bad);
    }
    const auto changed = engine_.set_unit(actor, *unit, c);
    if (!changed.ok()) return refused(b, changed);
    return accepted(b, wire::CreateUnitReply(
                           b, codec::encode_unit(b, engine_.catalog(), *unit, changed.value)));
}

}  // namespace slotmatch::tools
