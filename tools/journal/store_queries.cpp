#include "store_queries.hpp"

#include <limits>

#include "access_audit.hpp"

namespace slotmatch::journal {

namespace fb = flatbuffers;

namespace {

constexpr StaticText version_text = static_text(
    "unsupported protocol version (this journal speaks version ", codec::protocol_version, ")");

fb::Offset<wire::LogValues> encode_values(fb::FlatBufferBuilder& b,
                                          const std::optional<LogValues>& v) {
    if (!v) return 0;
    const auto phone = v->phone.empty() ? 0 : b.CreateString(v->phone);
    const auto reason = v->reason.empty() ? 0 : b.CreateString(v->reason);
    return wire::CreateLogValues(b, v->slot.value, v->resource.value, v->type.value, v->start.value,
                                 v->booking.value, phone, reason);
}

fb::Offset<wire::LogRow> encode_row(fb::FlatBufferBuilder& b, const LogRow& r) {
    const auto changed_by = b.CreateString(r.changed_by);
    const auto before = encode_values(b, r.before);
    const auto after = encode_values(b, r.after);
    return wire::CreateLogRow(b, r.seq, r.unit.value, r.changed_at.value,
                              static_cast<wire::LogStatus>(r.status), changed_by, r.patient.value,
                              before, after, r.billable);
}

fb::Offset<wire::AuditEntry> encode_entry(fb::FlatBufferBuilder& b, const Event& e) {
    const bool accessed = e.kind == EventKind::accessed;
    const auto action = b.CreateString(audit_action(e));
    const auto actor = b.CreateString(e.actor.view());
    const auto name = e.actor_name.empty() ? 0 : b.CreateString(e.actor_name.view());
    // A change made on the web or by proxy was made for the patient whose booking it is (the
    // engine acts only on the named citizen's bookings); an access names its citizen itself.
    const PatientKey behalf =
        accessed ? e.on_behalf_of : (e.channel == Channel::staff ? PatientKey{} : e.patient);
    return wire::CreateAuditEntry(b, e.seq, e.time.value, action, codec::to_wire(e.channel), actor,
                                  name, behalf.value, e.patient.value, e.unit.value,
                                  codec::to_wire(accessed ? e.outcome : ErrorCode::ok),
                                  e.booking.value);
}

}  // namespace

StoreQueries::StoreQueries(const Catalog& catalog, const Calendar& calendar,
                           std::unique_ptr<EventStore> reader, std::function<Instant()> now)
    : catalog_(catalog), calendar_(calendar), now_(std::move(now)), reader_(std::move(reader)) {}

StoreQueries::Answer StoreQueries::refused(fb::FlatBufferBuilder& b, ErrorCode code,
                                           std::string_view field, std::string_view message) {
    const auto error = codec::encode_error(b, code, field, message);
    return {code, wire::CreateResult(b, error)};
}

Outcome<Instant> StoreQueries::window_start(const fb::String* since) const {
    const Instant oldest{now_().value - log_retention_s};  // R20
    if (since == nullptr) return {ErrorCode::ok, {}, {}, oldest};
    const auto from = codec::decode_time(since, calendar_, false, "since");
    if (!from.ok()) return from;
    return {ErrorCode::ok, {}, {}, std::max(from.value, oldest)};
}

// Checks in ARCHITECTURE.md's order: the request's fields, then who asks.
StoreQueries::Answer StoreQueries::log(const wire::GetLog& r, const Actor& actor,
                                       fb::FlatBufferBuilder& b) {
    const auto unit = catalog_.find_unit(r.unit()->str());
    if (!unit) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    const auto since = window_start(r.since());
    if (!since.ok()) return refused(b, since.code, since.field, since.message);
    if (actor.channel != Channel::staff || !actor.has_unit || actor.unit != *unit) {
        return refused(b, ErrorCode::unauthorized, "unit",
                       "the web booking log is for the staff of its unit (--channel staff "
                       "--actor-unit UNIT)");
    }
    std::vector<LogRow> rows;
    std::string why;
    bool read = false;
    {
        std::lock_guard lock(mutex_);
        read = reader_->web_log(*unit, since.value, log_rows_max + 1, rows, why);
    }
    if (!read) {
        return refused(b, ErrorCode::overloaded, "store",
                       "the store cannot be read now; nothing was changed: " + why);
    }
    const bool truncated = rows.size() > log_rows_max;
    if (truncated) rows.resize(log_rows_max);
    std::vector<fb::Offset<wire::LogRow>> out;
    out.reserve(rows.size());
    for (const LogRow& row : rows) out.push_back(encode_row(b, row));
    const auto body = wire::CreateLogReply(b, b.CreateVector(out), truncated);
    return {ErrorCode::ok, wire::CreateResult(b, 0, wire::ReplyBody::LogReply, body.Union())};
}

// Checks in ARCHITECTURE.md's order: the request's fields, then who asks.
StoreQueries::Answer StoreQueries::audit(const wire::GetAudit& r, const Actor& actor,
                                         fb::FlatBufferBuilder& b) {
    const auto patient = codec::decode_patient(r.patient(), "patient");
    if (!patient.ok()) return refused(b, patient.code, patient.field, patient.message);
    Instant since{std::numeric_limits<std::int64_t>::min()};
    if (r.since()) {
        const auto from = codec::decode_time(r.since(), calendar_, false, "since");
        if (!from.ok()) return refused(b, from.code, from.field, from.message);
        since = from.value;
    }
    if (actor.channel != Channel::staff) {
        return refused(b, ErrorCode::unauthorized, "patient",
                       "the access audit is for staff (--channel staff)");
    }
    // Least privilege: a unit's staff see the accesses in their unit, and those that name no
    // unit (a citizen's or a proxy's read of the whole list); a region-admin sees every unit's.
    // So a health centre does not learn where else its patient has been booked.
    const auto visible = [&](const Event& e) {
        return actor.region_admin || e.unit == no_unit || (actor.has_unit && e.unit == actor.unit);
    };
    std::vector<Event> events;
    std::string why;
    bool read = false;
    {
        std::lock_guard lock(mutex_);
        read = reader_->audit(patient.value, since, audit_rows_max + 1, events, why);
    }
    if (!read) {
        return refused(b, ErrorCode::overloaded, "store",
                       "the store cannot be read now; nothing was changed: " + why);
    }
    const bool truncated = events.size() > audit_rows_max;
    if (truncated) events.resize(audit_rows_max);
    std::vector<fb::Offset<wire::AuditEntry>> out;
    out.reserve(events.size());
    for (const Event& e : events) {
        if (visible(e)) out.push_back(encode_entry(b, e));
    }
    const auto body = wire::CreateAuditReply(b, b.CreateVector(out), truncated);
    return {ErrorCode::ok, wire::CreateResult(b, 0, wire::ReplyBody::AuditReply, body.Union())};
}

// The region's names with the appointment types numbered as the store numbers them (types
// added live are in no region file: the log's rows name them by that number).
StoreQueries::Answer StoreQueries::catalog(const Actor& actor, fb::FlatBufferBuilder& b) {
    Catalog named = catalog_;
    std::vector<RecordedType> stored;
    std::string why;
    bool read = false;
    {
        std::lock_guard lock(mutex_);
        read = reader_->recorded_types(stored, why);
    }
    if (!read) {
        return refused(b, ErrorCode::overloaded, "store",
                       "the store cannot be read now; nothing was changed: " + why);
    }
    // Names only: a file older than the store (slotmatchd started since with a newer one)
    // still names every row. Refused only when the store's own records do not line up.
    if (!number_types_as_stored(named, stored, why, Numbering::names)) {
        return refused(b, ErrorCode::invalid_request, "store",
                       "the store's appointment types do not line up: " + why);
    }
    const auto body = codec::encode_catalog(b, named, std::nullopt, actor.channel);
    return {ErrorCode::ok, wire::CreateResult(b, 0, wire::ReplyBody::CatalogReply, body.Union())};
}

std::optional<StoreQueries::BookingEvents> StoreQueries::booking_events(BookingId id,
                                                                        PatientKey patient,
                                                                        std::string& why) {
    std::vector<Event> events;
    {
        std::lock_guard lock(mutex_);
        if (!reader_->audit(patient, Instant{std::numeric_limits<std::int64_t>::min()},
                            patient_events_max, events, why)) {
            return std::nullopt;
        }
    }
    BookingEvents found;
    for (const Event& e : events) {
        const bool makes = e.kind == EventKind::booked || e.kind == EventKind::rebooked;
        if (makes && e.booking == id) {
            found.made = e;
        } else if ((e.kind == EventKind::cancelled && e.booking == id) ||
                   (e.kind == EventKind::rebooked && e.before.booking == id)) {
            found.ended = e;
        }
    }
    return found;
}

void StoreQueries::answer(const wire::RequestMessage& request, fb::FlatBufferBuilder& b,
                          const keys::KeyHolder* key) {
    b.Clear();
    const auto whole = [&](std::string_view field, std::string_view message) {
        const auto error = codec::encode_error(b, ErrorCode::invalid_request, field, message);
        b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, request.request_id(), error),
                 codec::reply_identifier);
    };
    if (request.version() != codec::protocol_version) {
        return whole("version", version_text.view());
    }
    const std::size_t n = request.ops()->size();
    if (n == 0 || n > codec::batch_ops_max) {
        return whole("ops", codec::batch_ops_text.view());
    }
    const Outcome<Actor> actor = key ? keys::actor_of(request.actor(), *key, catalog_)
                                     : codec::decode_actor(request.actor(), catalog_);
    std::vector<fb::Offset<wire::Result>> results;
    results.reserve(n);
    for (const wire::Op* op : *request.ops()) {
        Answer a;
        if (!actor.ok()) {
            a = refused(b, actor.code, actor.field, actor.message);
        } else if (const auto* log_op = op->body_as_GetLog()) {
            a = log(*log_op, actor.value, b);
        } else if (const auto* audit_op = op->body_as_GetAudit()) {
            a = audit(*audit_op, actor.value, b);
        } else if (const auto* c = op->body_as_GetCatalog(); c && c->unit() == nullptr) {
            a = catalog(actor.value, b);
        } else {
            a = refused(b, ErrorCode::invalid_request, "op",
                        "slotmatch-journal answers the web booking log, the access audit (and "
                        "the catalog) only; send bookings to slotmatchd");
        }
        results.push_back(a.result);
    }
    b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, request.request_id(), 0,
                                      b.CreateVector(results)),
             codec::reply_identifier);
}

}  // namespace slotmatch::journal
