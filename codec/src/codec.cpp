#include <cstring>
#include <slotmatch/codec.hpp>
#include <slotmatch/patient.hpp>

namespace slotmatch::codec {

namespace fb = flatbuffers;

static_assert(static_cast<int>(wire::ErrorCode::PATIENT_ALREADY_OCCUPIED) ==
                  static_cast<int>(ErrorCode::patient_already_occupied),
              "wire error codes keep the engine's precedence order");
static_assert(static_cast<int>(wire::EventKind::waitlist_added) ==
              static_cast<int>(EventKind::waitlist_added));
static_assert(static_cast<int>(wire::SlotState::blocked) == static_cast<int>(SlotState::blocked));
static_assert(static_cast<int>(wire::ResourceKind::equipment) ==
              static_cast<int>(ResourceKind::equipment));
static_assert(static_cast<int>(wire::EventKind::MAX) + 1 == event_kind_count);
static_assert(static_cast<int>(wire::EntityKind::appointment_type) ==
              static_cast<int>(EntityKind::type));

namespace {

// Refusal texts that name a bound, built from it.
constexpr StaticText actor_too_long =
    static_text("actor id is too long (", ActorText::capacity(), " bytes at most)");
constexpr StaticText actor_name_too_long =
    static_text("actor name is too long (", ActorName::capacity(), " bytes of UTF-8 at most)");
constexpr StaticText phone_too_long =
    static_text("phone is too long (", PhoneText::capacity(), " bytes at most)");
constexpr StaticText limit_text = static_text("limit must be 1..", find_limit_max);

bool has_identifier(std::span<const std::uint8_t> bytes, const char* identifier) {
    return bytes.size() >= sizeof(fb::uoffset_t) + fb::kFileIdentifierLength &&
           std::memcmp(bytes.data() + sizeof(fb::uoffset_t), identifier,
                       fb::kFileIdentifierLength) == 0;
}

// `identifier`: the kind's own; a reply, batch or ack of an older peer carries the request's.
template <typename T>
const T* verify_root(std::span<const std::uint8_t> bytes, const char* identifier,
                     std::size_t bytes_max, unsigned depth_max, unsigned tables_max) {
    if (bytes.size() > bytes_max) return nullptr;
    if (!has_identifier(bytes, identifier) && !has_identifier(bytes, request_identifier)) {
        return nullptr;
    }
    fb::Verifier verifier(bytes.data(), bytes.size(), depth_max, tables_max);
    if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;  // the identifier was checked above
    return fb::GetRoot<T>(bytes.data());
}

std::string_view text(const fb::String* s) {
    return s ? s->string_view() : std::string_view{};
}

template <std::size_t N>
FixedString<N> fixed(const fb::String* s) {
    return FixedString<N>::from(text(s));
}

fb::Offset<fb::String> string_or_null(fb::FlatBufferBuilder& b, std::string_view s) {
    return s.empty() ? 0 : b.CreateString(s.data(), s.size());
}

wire::SlotSnapshot to_wire(const SlotSnapshot& s) {
    return wire::SlotSnapshot(s.slot.value, static_cast<wire::SlotState>(s.state), s.version,
                              s.type.value, s.start.value, s.booking.value, s.hold.value,
                              s.patient.value);
}

SlotSnapshot from_wire(const wire::SlotSnapshot* s) {
    SlotSnapshot out;
    if (s == nullptr) return out;
    out.slot = SlotId{s->slot()};
    out.state = static_cast<SlotState>(s->state());
    out.version = s->version();
    out.type = TypeIdx{s->appointment_type()};
    out.start = Instant{s->start()};
    out.booking = BookingId{s->booking()};
    out.hold = HoldId{s->hold()};
    out.patient = PatientKey{s->patient()};
    return out;
}

template <typename T>
Outcome<T> invalid(std::string_view field, std::string_view message) {
    return Outcome<T>::refuse(ErrorCode::invalid_request, field, message);
}

}  // namespace

MessageKind message_kind(std::span<const std::uint8_t> bytes) {
    if (has_identifier(bytes, request_identifier)) return MessageKind::request;
    if (has_identifier(bytes, reply_identifier)) return MessageKind::reply;
    if (has_identifier(bytes, event_batch_identifier)) return MessageKind::event_batch;
    if (has_identifier(bytes, journal_ack_identifier)) return MessageKind::journal_ack;
    return MessageKind::unknown;
}

// A request carries its own identifier only: "SMW1" has always meant a request.
const wire::RequestMessage* verify_request(std::span<const std::uint8_t> bytes) {
    return verify_root<wire::RequestMessage>(bytes, request_identifier, message_bytes_max,
                                             verify_depth_max, verify_tables_max);
}
const wire::ReplyMessage* verify_reply(std::span<const std::uint8_t> bytes) {
    return verify_root<wire::ReplyMessage>(bytes, reply_identifier, reply_bytes_max,
                                           reply_verify_depth_max, reply_verify_tables_max);
}
const wire::JournalAck* verify_journal_ack(std::span<const std::uint8_t> bytes) {
    return verify_root<wire::JournalAck>(bytes, journal_ack_identifier, message_bytes_max,
                                         verify_depth_max, verify_tables_max);
}
const wire::EventBatch* verify_event_batch(std::span<const std::uint8_t> bytes) {
    return verify_root<wire::EventBatch>(bytes, event_batch_identifier, event_batch_bytes_max,
                                         reply_verify_depth_max, reply_verify_tables_max);
}

wire::ErrorCode to_wire(ErrorCode e) {
    return static_cast<wire::ErrorCode>(e);
}
ErrorCode from_wire(wire::ErrorCode e) {
    if (e > wire::ErrorCode::MAX) return ErrorCode::invalid_request;
    return static_cast<ErrorCode>(e);
}
wire::Channel to_wire(Channel c) {
    return static_cast<wire::Channel>(c);
}
std::optional<Channel> from_wire(wire::Channel c) {
    if (c > wire::Channel::MAX) return std::nullopt;
    return static_cast<Channel>(c);
}

wire::Slot to_wire(const SlotView& s) {
    return wire::Slot(s.id.value, s.unit.value, s.resource.value, s.type.value, s.start.value,
                      s.end.value, static_cast<wire::SlotState>(s.state));
}

SlotView from_wire(const wire::Slot& s) {
    SlotView v;
    v.id = SlotId{s.slot_id()};
    v.unit = UnitIdx{s.unit()};
    v.resource = ResourceIdx{s.resource()};
    v.type = TypeIdx{s.appointment_type()};
    v.start = Instant{s.start()};
    v.end = Instant{s.end()};
    v.state = static_cast<SlotState>(s.state());
    return v;
}

fb::Offset<wire::Booking> encode_booking(fb::FlatBufferBuilder& b, const BookingView& v) {
    const auto actor = string_or_null(b, v.actor.view());
    const auto name = string_or_null(b, v.actor_name.view());
    const auto phone = string_or_null(b, v.phone.view());
    const auto reason = string_or_null(b, v.reason.view());
    const wire::Slot slot = to_wire(v.slot);
    return wire::CreateBooking(b, v.id.value, &slot, v.patient.value, to_wire(v.channel), actor,
                               name, v.changed_at.value, v.from_waitlist, phone, reason,
                               v.waitlisted_at.value);
}

BookingView decode_booking(const wire::Booking& b) {
    BookingView v;
    v.id = BookingId{b.booking_id()};
    if (b.slot()) v.slot = from_wire(*b.slot());
    v.slot_id = v.slot.id;
    v.patient = PatientKey{b.patient()};
    v.channel = from_wire(b.channel()).value_or(Channel::web);
    v.actor = fixed<ActorText::capacity()>(b.actor());
    v.actor_name = fixed<ActorName::capacity()>(b.actor_name());
    v.changed_at = Instant{b.changed_at()};
    v.from_waitlist = b.from_waitlist();
    v.waitlisted_at = Instant{b.waitlisted_at()};
    v.phone = fixed<PhoneText::capacity()>(b.phone());
    v.reason = fixed<ReasonText::capacity()>(b.reason());
    v.active = true;
    return v;
}

fb::Offset<wire::Unit> encode_unit(fb::FlatBufferBuilder& b, const Catalog& c, UnitIdx u,
                                   const WebSettings& web) {
    const Unit& unit = c.unit(u);
    const Provider& p = c.providers[unit.provider.value];
    const auto settings = wire::CreateWebSettingsDirect(
        b, web.booking_active, web.cancel_rebook_active, web.patient_comment,
        web.terms_book.c_str(), web.terms_cancel_rebook.c_str());
    std::vector<std::uint32_t> res, local;
    for (ResourceIdx r : unit.resources) res.push_back(r.value);
    for (TypeIdx t : unit.local_types) local.push_back(t.value);
    return wire::CreateUnitDirect(b, u.value, unit.id.c_str(), unit.name.c_str(), p.id.c_str(),
                                  p.name.c_str(), settings, &res, &local);
}

fb::Offset<wire::AppointmentType> encode_type(fb::FlatBufferBuilder& b, TypeIdx index,
                                              const AppointmentType& t, Channel viewer) {
    // R7: citizens and proxies see no internal names, and of a type that is not theirs nothing
    // but its id (its index stays, so replies still decode). The web's are the types presented
    // on the web (a web name, not hidden: R6, R7), proxy types included, so that a citizen sees
    // what a proxy booked for them (R8's decision), but bookable on the web only if not proxy
    // types; a proxy's are the proxy types among those (R7, R8); a removed type is nobody's but
    // staff's.
    const bool staff = viewer == Channel::staff;
    const bool theirs = !t.removed && t.web_visible() && (viewer != Channel::proxy || t.is_proxy());
    const bool shown = staff || theirs;
    const bool bookable = shown && t.web_bookable && (viewer != Channel::web || !t.is_proxy());
    return wire::CreateAppointmentTypeDirect(
        b, index.value, t.id.c_str(), staff ? t.name.c_str() : "", shown ? t.web_name.c_str() : "",
        shown ? t.web_info.c_str() : "", bookable, shown && t.web_cancellable,
        shown && t.web_rebookable, t.hide_from_patient, shown ? t.window_days : std::nullopt,
        t.duration_min, t.region_wide, t.unit.value, t.is_proxy(), t.removed);
}

fb::Offset<wire::CatalogReply> encode_catalog(fb::FlatBufferBuilder& b, const Catalog& c,
                                              std::optional<UnitIdx> only, Channel viewer) {
    std::vector<fb::Offset<wire::Unit>> units;
    std::vector<fb::Offset<wire::Resource>> resources;
    std::vector<fb::Offset<wire::AppointmentType>> types;
    std::uint64_t fingerprint = 1469598103934665603ULL;  // FNV-1a over the ids
    const auto mix = [&](std::string_view s) {
        for (unsigned char ch : s) fingerprint = (fingerprint ^ ch) * 1099511628211ULL;
    };
    for (std::uint32_t u = 0; u < c.units.size(); ++u) {
        mix(c.units[u].id);
        if (only && only->value != u) continue;
        units.push_back(encode_unit(b, c, UnitIdx{u}, c.units[u].web));
    }
    for (std::uint32_t r = 0; r < c.resources.size(); ++r) {
        const Resource& res = c.resources[r];
        mix(res.id);
        if (only && *only != res.unit) continue;
        resources.push_back(wire::CreateResourceDirect(b, r, res.id.c_str(),
                                                       static_cast<wire::ResourceKind>(res.kind),
                                                       res.name.c_str(), res.unit.value));
    }
    for (std::uint32_t t = 0; t < c.types.size(); ++t) {
        mix(c.types[t].id);
        if (only && !c.type_usable_in(TypeIdx{t}, *only)) continue;
        types.push_back(encode_type(b, TypeIdx{t}, c.types[t], viewer));
    }
    return wire::CreateCatalogReplyDirect(b, c.timezone.c_str(), c.hold_ttl_s, &units, &resources,
                                          &types, fingerprint);
}

std::optional<Catalog> decode_catalog(const wire::CatalogReply& w) {
    if (!w.units() || !w.resources() || !w.appointment_types()) return std::nullopt;
    Catalog c;
    c.timezone = std::string(text(w.timezone()));
    c.hold_ttl_s = w.hold_ttl_s();
    for (std::uint32_t i = 0; i < w.units()->size(); ++i) {
        const wire::Unit* u = w.units()->Get(i);
        if (u->index() != i) return std::nullopt;
        Unit unit;
        unit.id = std::string(text(u->id()));
        unit.name = std::string(text(u->name()));
        // Providers are rebuilt from the units' provider ids, in order of first appearance.
        const std::string provider_id(text(u->provider_id()));
        auto p = std::find_if(c.providers.begin(), c.providers.end(),
                              [&](const Provider& x) { return x.id == provider_id; });
        if (p == c.providers.end()) {
            c.providers.push_back({provider_id, std::string(text(u->provider_name())), {}});
            p = c.providers.end() - 1;
        }
        p->units.push_back(UnitIdx{i});
        unit.provider = ProviderIdx{static_cast<std::uint32_t>(p - c.providers.begin())};
        if (const wire::WebSettings* web = u->web()) {
            unit.web = {web->booking_active(), web->cancel_rebook_active(), web->patient_comment(),
                        std::string(text(web->terms_book())),
                        std::string(text(web->terms_cancel_rebook()))};
        }
        if (u->resources()) {
            for (std::uint32_t r : *u->resources()) unit.resources.push_back(ResourceIdx{r});
        }
        if (u->local_types()) {
            for (std::uint32_t t : *u->local_types()) unit.local_types.push_back(TypeIdx{t});
        }
        c.unit_by_id.emplace(unit.id, UnitIdx{i});
        c.units.push_back(std::move(unit));
    }
    for (std::uint32_t i = 0; i < w.resources()->size(); ++i) {
        const wire::Resource* r = w.resources()->Get(i);
        if (r->index() != i || r->unit() >= c.units.size()) return std::nullopt;
        Resource res{std::string(text(r->id())), static_cast<ResourceKind>(r->kind()),
                     std::string(text(r->name())), UnitIdx{r->unit()}};
        c.resource_by_id.emplace(res.id, ResourceIdx{i});
        c.resources.push_back(std::move(res));
    }
    for (std::uint32_t i = 0; i < w.appointment_types()->size(); ++i) {
        const wire::AppointmentType* t = w.appointment_types()->Get(i);
        if (t->index() != i) return std::nullopt;
        AppointmentType type;
        type.id = std::string(text(t->id()));
        type.name = std::string(text(t->name()));
        type.web_name = std::string(text(t->web_name()));
        type.web_info = std::string(text(t->web_info()));
        type.web_bookable = t->web_bookable();
        type.web_cancellable = t->web_cancellable();
        type.web_rebookable = t->web_rebookable();
        type.hide_from_patient = t->hide_from_patient();
        if (t->window_days()) type.window_days = *t->window_days();
        type.duration_min = t->duration_min();
        type.region_wide = t->region_wide();
        type.unit = UnitIdx{t->unit()};
        c.type_by_id.emplace(type.id, TypeIdx{i});
        c.types.push_back(std::move(type));
    }
    return c;
}

namespace {

fb::Offset<wire::ConfigChange> encode_config(fb::FlatBufferBuilder& b, const ConfigChange* c) {
    if (c == nullptr) return 0;
    const AppointmentType& t = c->type;
    const WebSettings& u = c->unit;
    const auto web_name = string_or_null(b, t.web_name);
    const auto web_info = string_or_null(b, t.web_info);
    const auto terms_book = string_or_null(b, u.terms_book);
    const auto terms_cancel_rebook = string_or_null(b, u.terms_cancel_rebook);
    const auto id = c->defines ? b.CreateString(t.id) : 0;
    const auto name = c->defines ? b.CreateString(t.name) : 0;
    return wire::CreateConfigChange(
        b, static_cast<wire::EntityKind>(c->entity), c->index, c->seed, web_name, web_info,
        t.web_bookable, t.web_cancellable, t.web_rebookable, t.hide_from_patient,
        t.window_days.value_or(0), t.removed, u.booking_active, u.cancel_rebook_active,
        u.patient_comment, terms_book, terms_cancel_rebook, c->defines, id, name,
        c->defines ? t.duration_min : 0, c->defines && t.region_wide,
        c->defines ? t.unit.value : 0);
}

ConfigChange decode_config(const wire::ConfigChange& w) {
    ConfigChange c;
    c.entity = w.entity() <= wire::EntityKind::MAX ? static_cast<EntityKind>(w.entity())
                                                   : EntityKind::none;
    c.index = w.index();
    c.seed = w.seed();
    AppointmentType& t = c.type;
    t.web_name = std::string(text(w.web_name()));
    t.web_info = std::string(text(w.web_info()));
    t.web_bookable = w.web_bookable();
    t.web_cancellable = w.web_cancellable();
    t.web_rebookable = w.web_rebookable();
    t.hide_from_patient = w.hide_from_patient();
    if (w.window_days() > 0) t.window_days = w.window_days();
    t.removed = w.removed();
    c.defines = w.defines();
    if (c.defines) {
        t.id = std::string(text(w.id()));
        t.name = std::string(text(w.name()));
        t.duration_min = w.duration_min();
        t.region_wide = w.region_wide();
        t.unit = UnitIdx{w.unit()};
    }
    WebSettings& u = c.unit;
    u.booking_active = w.booking_active();
    u.cancel_rebook_active = w.cancel_rebook_active();
    u.patient_comment = w.patient_comment();
    u.terms_book = std::string(text(w.terms_book()));
    u.terms_cancel_rebook = std::string(text(w.terms_cancel_rebook()));
    return c;
}

}  // namespace

fb::Offset<wire::Event> encode_event(fb::FlatBufferBuilder& b, const Event& e) {
    const auto actor = string_or_null(b, e.actor.view());
    const auto name = string_or_null(b, e.actor_name.view());
    const auto phone = string_or_null(b, e.phone.view());
    const auto reason = string_or_null(b, e.reason.view());
    const wire::SlotSnapshot before = to_wire(e.before), after = to_wire(e.after),
                             released = to_wire(e.released);
    const ScheduleFacts& f = e.schedule;
    const wire::ScheduleFacts schedule(f.id.value, f.weekdays, f.seed, f.from_min, f.to_min,
                                       f.valid_from_day, f.valid_to_day, f.group_first,
                                       f.group_slots, f.group_schedules, f.day, f.window_days);
    const bool scheduled = f != ScheduleFacts{};  // other events leave the field out
    const auto config = encode_config(b, e.config);
    return wire::CreateEvent(
        b, e.seq, e.time.value, static_cast<wire::EventKind>(e.kind), to_wire(e.channel), actor,
        name, e.unit.value, e.resource.value, &before, &after, &released, e.booking.value,
        e.patient.value, e.block.value, e.from.value, e.to.value, e.type.value, e.billable,
        e.from_waitlist, phone, reason, static_cast<wire::AccessAction>(e.action),
        to_wire(e.outcome), e.on_behalf_of.value, scheduled ? &schedule : nullptr,
        static_cast<wire::EntityKind>(e.entity), config, e.entry.value, e.waitlisted_at.value);
}

Event decode_event(const wire::Event& w, ConfigArena* configs) {
    Event e;
    e.seq = w.seq();
    e.time = Instant{w.time()};
    e.kind = static_cast<EventKind>(w.kind());
    e.channel = from_wire(w.channel()).value_or(Channel::staff);
    e.actor = fixed<ActorText::capacity()>(w.actor());
    e.actor_name = fixed<ActorName::capacity()>(w.actor_name());
    e.unit = UnitIdx{w.unit()};
    e.resource = ResourceIdx{w.resource()};
    e.before = from_wire(w.before());
    e.after = from_wire(w.after());
    e.released = from_wire(w.released());
    e.booking = BookingId{w.booking()};
    e.patient = PatientKey{w.patient()};
    e.block = BlockId{w.block()};
    e.from = Instant{w.from()};
    e.to = Instant{w.to()};
    e.type = TypeIdx{w.appointment_type()};
    e.billable = w.billable();
    e.from_waitlist = w.from_waitlist();
    e.phone = fixed<PhoneText::capacity()>(w.phone());
    e.reason = fixed<ReasonText::capacity()>(w.reason());
    e.action = w.action() <= wire::AccessAction::MAX ? static_cast<AccessAction>(w.action())
                                                     : AccessAction::none;
    e.outcome = from_wire(w.outcome());
    e.on_behalf_of = PatientKey{w.on_behalf_of()};
    if (const wire::ScheduleFacts* f = w.schedule()) {
        e.schedule = {ScheduleId{f->id()},  f->weekdays(),    f->seed(),
                      f->from_min(),        f->to_min(),      f->valid_from_day(),
                      f->valid_to_day(),    f->group_first(), f->group_slots(),
                      f->group_schedules(), f->day(),         f->window_days()};
    }
    e.entity = w.entity() <= wire::EntityKind::MAX ? static_cast<EntityKind>(w.entity())
                                                   : EntityKind::none;
    e.entry = WaitlistEntryId{w.waitlist_entry()};
    e.waitlisted_at = Instant{w.waitlisted_at()};
    if (configs != nullptr && w.config() != nullptr) {
        configs->push_back(decode_config(*w.config()));
        e.config = &configs->back();
    }
    return e;
}

fb::Offset<wire::Error> encode_error(fb::FlatBufferBuilder& b, ErrorCode code,
                                     std::string_view field, std::string_view message) {
    const auto f = string_or_null(b, field);
    const auto m = string_or_null(b, message);
    return wire::CreateError(b, to_wire(code), f, m);
}

bool valid_utf8(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++p;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) <= n) return false;
        for (std::size_t i = 1; i <= n; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        static constexpr std::uint32_t shortest[] = {0, 0x80, 0x800, 0x10000};
        if (cp < shortest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        p += n + 1;
    }
    return true;
}

Outcome<bool> check_text(std::string_view s, std::size_t bytes_max, std::string_view field,
                         std::string_view too_long) {
    if (s.size() > bytes_max) return invalid<bool>(field, too_long);
    if (!valid_utf8(s)) return invalid<bool>(field, "not valid UTF-8");
    return {};
}

Outcome<Actor> decode_actor(const wire::Actor* a, const Catalog& catalog) {
    Actor actor;
    const auto channel = from_wire(a->channel());
    if (!channel) return invalid<Actor>("channel", "channel must be web, proxy or staff");
    actor.channel = *channel;
    if (text(a->id()).empty()) return invalid<Actor>("actor", "the actor is missing");
    const auto id =
        check_text(text(a->id()), ActorText::capacity(), "actor", actor_too_long.view());
    if (!id.ok()) return Outcome<Actor>::refuse(id);
    const auto name = check_text(text(a->name()), ActorName::capacity(), "actor_name",
                                 actor_name_too_long.view());
    if (!name.ok()) return Outcome<Actor>::refuse(name);
    actor.id = fixed<ActorText::capacity()>(a->id());
    actor.name = fixed<ActorName::capacity()>(a->name());
    if (a->unit() && a->unit()->size() > 0) {
        const auto unit = catalog.find_unit(a->unit()->str());
        if (!unit) return invalid<Actor>("actor_unit", "no unit with this id");
        actor.has_unit = true;
        actor.unit = *unit;
    }
    if (a->roles()) {
        for (const fb::String* role : *a->roles()) {
            if (text(role) != "region-admin") {
                return invalid<Actor>("roles", "the one role is region-admin");
            }
            actor.region_admin = actor.channel == Channel::staff;
        }
    }
    return {ErrorCode::ok, {}, {}, actor};
}

Outcome<PatientKey> decode_patient(const fb::String* p, std::string_view field) {
    if (p == nullptr || p->size() == 0) return invalid<PatientKey>(field, "patient is required");
    const PatientIdCheck check = parse_patient_id(p->string_view());
    if (!check.key) {
        return invalid<PatientKey>(field,
                                   "not a valid personnummer or samordningsnummer "
                                   "(YYYYMMDDNNNC with a real date and a Luhn check digit)");
    }
    return {ErrorCode::ok, {}, {}, *check.key};
}

Outcome<Instant> decode_time(const fb::String* t, const Calendar& calendar, bool end_of_day,
                             std::string_view field) {
    const std::string_view s = text(t);
    if (auto day = Calendar::parse_day(s); day && s.size() == 10) {
        return {ErrorCode::ok, {}, {}, calendar.local_midnight(*day + (end_of_day ? 1 : 0))};
    }
    if (auto at = calendar.parse_time(s)) {
        return {ErrorCode::ok, {}, {}, *at};
    }
    return invalid<Instant>(field, "not a date (2026-03-02) or an ISO 8601 time");
}

Outcome<SlotQuery> decode_query(const wire::Find& f, const Catalog& catalog,
                                const Calendar& calendar) {
    SlotQuery q;
    const auto unit = catalog.find_unit(f.unit()->str());
    if (!unit) return invalid<SlotQuery>("unit", "no unit with this id");
    q.unit = *unit;
    if (f.appointment_type()) {
        const auto type = catalog.find_type(f.appointment_type()->str());
        if (!type)
            return invalid<SlotQuery>("appointment_type", "no appointment type with this id");
        q.type = *type;
    }
    if (f.resource()) {
        const auto resource = catalog.find_resource(f.resource()->str());
        if (!resource) return invalid<SlotQuery>("resource", "no resource with this id");
        q.resource = *resource;
    }
    if (f.from()) {
        const auto from = decode_time(f.from(), calendar, false, "from");
        if (!from.ok()) return Outcome<SlotQuery>::refuse(from);
        q.from = from.value;
    }
    if (f.to()) {
        const auto to = decode_time(f.to(), calendar, true, "to");
        if (!to.ok()) return Outcome<SlotQuery>::refuse(to);
        q.to = to.value;
    }
    if (f.limit() == 0 || f.limit() > find_limit_max) {
        return invalid<SlotQuery>("limit", limit_text.view());
    }
    q.limit = f.limit();
    return {ErrorCode::ok, {}, {}, q};
}

Outcome<BookRequest> decode_book(const wire::Book& b, const Catalog& catalog,
                                 const Calendar& calendar) {
    BookRequest r;
    const int ways =
        int(b.slot().has_value()) + int(b.hold().has_value()) + int(b.match() != nullptr);
    if (ways != 1) {
        return invalid<BookRequest>("slot",
                                    "give exactly one of a slot, a hold, or a unit and type");
    }
    if (b.slot()) r.slot = SlotId{*b.slot()};
    if (b.hold()) r.hold = HoldId{*b.hold()};
    if (b.match()) {
        if (!b.match()->appointment_type()) {
            return invalid<BookRequest>("appointment_type",
                                        "booking the first free slot needs a unit and a type");
        }
        const auto q = decode_query(*b.match(), catalog, calendar);
        if (!q.ok()) return Outcome<BookRequest>::refuse(q);
        r.match = q.value;
    }
    const auto patient = decode_patient(b.patient(), "patient");
    if (!patient.ok()) return Outcome<BookRequest>::refuse(patient);
    r.patient = patient.value;
    const auto phone =
        check_text(text(b.phone()), PhoneText::capacity(), "phone", phone_too_long.view());
    if (!phone.ok()) return Outcome<BookRequest>::refuse(phone);
    const auto reason =
        check_text(text(b.reason()), ReasonText::capacity(), "reason", reason_too_long_text.view());
    if (!reason.ok()) return Outcome<BookRequest>::refuse(reason);
    r.phone = fixed<PhoneText::capacity()>(b.phone());
    r.reason = fixed<ReasonText::capacity()>(b.reason());
    r.from_waitlist = b.from_waitlist();
    return {ErrorCode::ok, {}, {}, r};
}

}  // namespace slotmatch::codec
