#include "service.hpp"

#include <slotmatch/assert.hpp>
#include <slotmatch/patient.hpp>

#include "answers.hpp"

namespace slotmatch::tools {

namespace fb = flatbuffers;
using wire::Operation;

std::string_view to_string(OpKind k) {
    // clang-format off
    static constexpr std::array<std::string_view, op_kind_count> names = {
        "find", "hold", "book", "rebook", "cancel", "bookings", "block", "unblock",
        "waitlist_add", "waitlist_list", "catalog", "stats", "set_clock", "log", "audit",
        "publish_schedule", "extend_schedule", "end_schedule", "add_slot", "set_slot_type",
        "remove_slot", "set_type", "remove_type", "set_unit", "waitlist_remove", "booking",
        "add_type"};
    // clang-format on
    return names[static_cast<std::size_t>(k)];
}

namespace {

static_assert(static_cast<int>(Operation::MAX) == static_cast<int>(op_kind_count),
              "one counter row per operation of the schema");

using Answer = Service::Answer;

constexpr StaticText version_text = static_text(
    "unsupported protocol version (this server speaks version ", codec::protocol_version, ")");

using answers::accepted;
using answers::refused;

// The citizen a web/proxy request is made for; staff may leave it out.
Outcome<PatientKey> request_patient(const fb::String* p, const Actor& actor) {
    if (actor.channel == Channel::staff && (p == nullptr || p->size() == 0)) {
        return {ErrorCode::ok, {}, {}, PatientKey{}};
    }
    return codec::decode_patient(p, "patient");
}

fb::Offset<wire::BookingReply> move_reply(fb::FlatBufferBuilder& b, const MoveResult& m) {
    const auto booking = codec::encode_booking(b, m.booking);
    return wire::CreateBookingReply(b, booking, m.previous.value, m.billable,
                                    m.returned_to_waitlist);
}

fb::Offset<wire::WaitlistEntry> entry(fb::FlatBufferBuilder& b, const WaitlistView& w) {
    return wire::CreateWaitlistEntry(b, w.id.value, w.unit.value, w.type.value, w.patient.value,
                                     w.added_at.value);
}

fb::Offset<wire::BlockReply> block_reply(fb::FlatBufferBuilder& b, const BlockResult& r) {
    return wire::CreateBlockReply(b, r.id.value, r.slots_changed, r.reserved_untouched);
}

}  // namespace

Service::Service(Engine& engine, FixedClock* fixed, ServerCounters& counters)
    : engine_(engine), fixed_(fixed), counters_(counters) {}

void Service::refuse_message(fb::FlatBufferBuilder& b, std::uint64_t request_id, ErrorCode code,
                             std::string_view field, std::string_view message) {
    b.Clear();
    const auto error = codec::encode_error(b, code, field, message);
    b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, request_id, error),
             codec::reply_identifier);
}

bool Service::changes_state(const wire::RequestMessage& request) {
    for (const wire::Op* op : *request.ops()) {
        switch (op->body_type()) {
            case Operation::Hold:
            case Operation::Book:
            case Operation::Rebook:
            case Operation::Cancel:
            case Operation::Block:
            case Operation::Unblock:
            case Operation::WaitlistAdd:
            case Operation::WaitlistRemove:
            case Operation::SetClock:
            case Operation::PublishSchedule:
            case Operation::ExtendSchedule:
            case Operation::EndSchedule:
            case Operation::AddSlot:
            case Operation::SetSlotType:
            case Operation::RemoveSlot:
            case Operation::SetType:
            case Operation::AddType:
            case Operation::RemoveType:
            case Operation::SetUnit:
                return true;
            default:
                break;
        }
    }
    return false;
}

bool Service::all_overloaded(std::span<const std::uint8_t> reply) {
    const auto* m = flatbuffers::GetRoot<wire::ReplyMessage>(reply.data());
    if (m->error()) return m->error()->code() == wire::ErrorCode::OVERLOADED;
    if (m->results() == nullptr || m->results()->size() == 0) return false;
    for (const wire::Result* r : *m->results()) {
        if (r->error() == nullptr || r->error()->code() != wire::ErrorCode::OVERLOADED) {
            return false;
        }
    }
    return true;
}

bool Service::reads_patient_data(const wire::RequestMessage& request) {
    for (const wire::Op* op : *request.ops()) {
        // Reads of a patient's data: answered once their audit event is committed.
        if (op->body_type() == Operation::Bookings || op->body_type() == Operation::GetBooking) {
            return true;
        }
    }
    return false;
}

std::uint64_t Service::shard_key(const wire::RequestMessage& request) const {
    if (request.ops()->size() == 0) return 0;
    const wire::Op& op = *request.ops()->Get(0);
    const auto shard_of = [](const SlotView& v) {
        return (std::uint64_t{v.resource.value} << 32) | v.type.value;
    };
    std::optional<std::uint32_t> slot;
    std::optional<std::uint64_t> booking;
    if (const auto* h = op.body_as_Hold(); h && h->slot()) slot = *h->slot();
    if (const auto* k = op.body_as_Book(); k && k->slot()) slot = *k->slot();
    if (const auto* r = op.body_as_Rebook()) booking = r->booking();
    if (const auto* c = op.body_as_Cancel()) booking = c->booking();
    if (slot) {
        if (const auto view = engine_.slot(SlotId{*slot})) return shard_of(*view);
    }
    if (booking) {  // the shard of the booking's slot, where its book ran
        if (const auto view = engine_.booking(BookingId{*booking})) return shard_of(view->slot);
        return *booking;
    }
    if (const auto* k = op.body_as_Book(); k && k->hold()) return *k->hold();
    return request.request_id();
}

void Service::answer(const wire::RequestMessage& request, fb::FlatBufferBuilder& b,
                     const keys::KeyHolder* key) {
    b.Clear();
    const std::uint64_t id = request.request_id();
    if (request.version() != codec::protocol_version) {
        refuse_message(b, id, ErrorCode::invalid_request, "version", version_text.view());
        return;
    }
    const std::size_t n = request.ops()->size();
    if (n == 0 || n > codec::batch_ops_max) {
        refuse_message(b, id, ErrorCode::invalid_request, "ops", codec::batch_ops_text.view());
        return;
    }
    const Outcome<Actor> actor = key ? keys::actor_of(request.actor(), *key, engine_.catalog())
                                     : codec::decode_actor(request.actor(), engine_.catalog());
    // A request refused for what its key may not do is still an access to a patient's bookings
    // by that key (Patientdatalagen): it is audited under the key's own actor.
    std::vector<fb::Offset<wire::Result>> results;  // small: one offset per operation
    results.reserve(n);
    std::size_t slots_left = codec::reply_slots_max;
    for (const wire::Op* op : *request.ops()) {
        Answer a;
        if (key && actor.ok() && op->body_type() == Operation::SetClock && !key->region_admin) {
            // The test clock (--clock fixed:) moves for everyone: with keys, a region-admin's.
            a = refused(b, ErrorCode::unauthorized, "op",
                        "with keys, only a region-admin key moves the clock");
        } else if (!actor.ok() && key && is_patient_op(*op)) {
            const Actor as_key = keys::key_actor(*key);
            a = audited(
                refused(b, actor), false, as_key, [&] { return access_of(*op, as_key); }, b);
        } else if (!actor.ok()) {
            a = refused(b, actor);
        } else {
            a = run(*op, actor.value, b, slots_left);
        }
        const auto kind = static_cast<std::size_t>(op->body_type());
        if (kind >= 1 && kind <= op_kind_count) {
            counters_.ops.count(static_cast<OpKind>(kind - 1), a.code);
        }
        results.push_back(a.result);
    }
    counters_.operations.fetch_add(n, std::memory_order_relaxed);
    b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, id, 0, b.CreateVector(results)),
             codec::reply_identifier);
}

Service::Answer Service::run(const wire::Op& op, const Actor& actor, fb::FlatBufferBuilder& b,
                             std::size_t& slots_left) {
    if (is_patient_op(op)) return patient_op(op, actor, b);
    Answer a;
    switch (op.body_type()) {
        case Operation::Find:
            a = find(*op.body_as_Find(), actor, b, slots_left);
            break;
        case Operation::Block:
            a = block(*op.body_as_Block(), actor, b);
            break;
        case Operation::Unblock:
            a = unblock(*op.body_as_Unblock(), actor, b);
            break;
        case Operation::WaitlistList:
            a = waitlist_list(*op.body_as_WaitlistList(), actor, b);
            break;
        case Operation::WaitlistRemove: {
            const auto removed = engine_.waitlist_remove(
                actor, WaitlistEntryId{op.body_as_WaitlistRemove()->entry()});
            if (!removed.ok()) {
                a = refused(b, removed);
                break;
            }
            const auto entries = b.CreateVector(std::vector{entry(b, removed.value)});
            a = accepted(b, wire::CreateWaitlistReply(b, entries));
            break;
        }
        case Operation::GetCatalog:
            a = catalog(*op.body_as_GetCatalog(), actor, b);
            break;
        case Operation::GetStats:
            a = stats(b);
            break;
        case Operation::SetClock:
            a = set_clock(*op.body_as_SetClock(), actor, b);
            break;
        case Operation::GetLog:
        case Operation::GetAudit:
            a = from_store(op, actor, b);
            break;
        case Operation::PublishSchedule:
        case Operation::ExtendSchedule:
        case Operation::EndSchedule:
        case Operation::AddSlot:
        case Operation::SetSlotType:
        case Operation::RemoveSlot:
        case Operation::SetType:
        case Operation::AddType:
        case Operation::RemoveType:
        case Operation::SetUnit:
            a = administer(op, actor, b);
            break;
        default:
            a = refused(b, ErrorCode::invalid_request, "op", "unknown operation");
            break;
    }
    return a;
}

bool Service::is_patient_op(const wire::Op& op) {
    switch (op.body_type()) {
        case Operation::Hold:
        case Operation::Book:
        case Operation::Rebook:
        case Operation::Cancel:
        case Operation::Bookings:
        case Operation::WaitlistAdd:
        case Operation::GetBooking:
            return true;
        default:
            return false;
    }
}

// The operations on a patient's bookings, each recorded for the access audit when it reads or
// is refused (audited).
Service::Answer Service::patient_op(const wire::Op& op, const Actor& actor,
                                    fb::FlatBufferBuilder& b) {
    Answer a;
    bool read = false;
    switch (op.body_type()) {
        case Operation::Hold:
            a = hold(*op.body_as_Hold(), actor, b);
            break;
        case Operation::Book:
            a = book(*op.body_as_Book(), actor, b);
            break;
        case Operation::Rebook:
            a = rebook(*op.body_as_Rebook(), actor, b);
            break;
        case Operation::Cancel:
            a = cancel(*op.body_as_Cancel(), actor, b);
            break;
        case Operation::Bookings:
            a = bookings(*op.body_as_Bookings(), actor, b);
            read = true;
            break;
        case Operation::WaitlistAdd:
            a = waitlist_add(*op.body_as_WaitlistAdd(), actor, b);
            break;
        case Operation::GetBooking:
            a = get_booking(*op.body_as_GetBooking(), actor, b);
            read = true;
            break;
        default:
            SM_ASSERT(false && "run() routes only patient operations here");
    }
    return audited(
        a, read, actor, [&] { return access_of(op, actor); }, b);
}

AccessRecord Service::access_of(const wire::Op& op, const Actor& actor) const {
    switch (op.body_type()) {
        case Operation::Hold:
            return access_of(*op.body_as_Hold(), actor);
        case Operation::Book:
            return access_of(*op.body_as_Book(), actor);
        case Operation::Rebook: {
            const wire::Rebook& r = *op.body_as_Rebook();
            return access_of(r.booking(), r.patient(), AccessAction::rebook, actor);
        }
        case Operation::Cancel: {
            const wire::Cancel& r = *op.body_as_Cancel();
            return access_of(r.booking(), r.patient(), AccessAction::cancel, actor);
        }
        case Operation::Bookings:
            return access_of(*op.body_as_Bookings(), actor);
        case Operation::WaitlistAdd:
            return access_of(*op.body_as_WaitlistAdd(), actor);
        case Operation::GetBooking: {
            const wire::GetBooking& r = *op.body_as_GetBooking();
            return access_of(r.booking(), r.patient(), AccessAction::booking, actor);
        }
        default:
            SM_ASSERT(false && "only patient operations are audited");
            return {};
    }
}

Service::Answer Service::from_store(const wire::Op& op, const Actor& actor,
                                    fb::FlatBufferBuilder& b) {
    if (queries_ == nullptr) return refused(b, ErrorCode::invalid_request, "store", no_store_why_);
    const auto q = op.body_type() == Operation::GetLog
                       ? queries_->log(*op.body_as_GetLog(), actor, b)
                       : queries_->audit(*op.body_as_GetAudit(), actor, b);
    return {q.code, q.result};
}

template <typename AccessOf>
Service::Answer Service::audited(Answer a, bool read, const Actor& actor, AccessOf access_of,
                                 fb::FlatBufferBuilder& b) {
    if (a.code == ErrorCode::ok && !read) return a;  // a change: its own event says so
    AccessRecord access = access_of();
    if (access.patient.value == 0) return a;  // no patient to file it under (a bad id)
    access.outcome = a.code;
    if (engine_.record_access(actor, access)) return a;
    return refused(b, ErrorCode::overloaded, "",
                   "the access log has no room now; nothing was read or changed; retry later");
}

namespace {

// The citizen a web or proxy request is made for (the one the request names); staff act for
// no one.
PatientKey on_behalf(const Actor& actor, PatientKey named) {
    return actor.channel == Channel::staff ? PatientKey{} : named;
}

PatientKey parsed_patient(const fb::String* p) {
    const auto key = codec::decode_patient(p, "patient");
    return key.ok() ? key.value : PatientKey{};
}

}  // namespace

AccessRecord Service::access_of(const wire::Hold& r, const Actor& actor) const {
    AccessRecord a;
    a.action = AccessAction::hold;
    a.patient = parsed_patient(r.patient());
    a.on_behalf_of = on_behalf(actor, a.patient);
    if (r.slot()) {
        if (const auto s = engine_.slot(SlotId{*r.slot()})) a.unit = s->unit;
    }
    return a;
}

AccessRecord Service::access_of(const wire::Book& r, const Actor& actor) const {
    AccessRecord a;
    a.action = AccessAction::book;
    a.patient = parsed_patient(r.patient());
    a.on_behalf_of = on_behalf(actor, a.patient);
    if (r.slot()) {
        if (const auto s = engine_.slot(SlotId{*r.slot()})) a.unit = s->unit;
    } else if (r.match() && r.match()->unit()) {
        if (const auto u = engine_.catalog().find_unit(r.match()->unit()->str())) a.unit = *u;
    }
    return a;
}

// A rebook or cancel concerns the booking's patient, whoever the request names: a citizen
// asking for another's booking is filed under the other (the one whose data was asked for).
AccessRecord Service::access_of(std::uint64_t booking, const fb::String* patient,
                                AccessAction action, const Actor& actor) const {
    AccessRecord a;
    a.action = action;
    a.booking = BookingId{booking};
    const PatientKey named = parsed_patient(patient);
    a.on_behalf_of = on_behalf(actor, named);
    a.patient = named;
    if (const auto view = engine_.booking(BookingId{booking})) {
        a.patient = view->patient;
        a.unit = view->slot.unit;
    }
    return a;
}

AccessRecord Service::access_of(const wire::Bookings& r, const Actor& actor) const {
    AccessRecord a;
    a.action = AccessAction::bookings;
    a.patient = parsed_patient(r.patient());
    a.on_behalf_of = on_behalf(actor, a.patient);
    if (actor.has_unit) a.unit = actor.unit;
    return a;
}

AccessRecord Service::access_of(const wire::WaitlistAdd& r, const Actor& actor) const {
    AccessRecord a;
    a.action = AccessAction::waitlist_add;
    a.patient = parsed_patient(r.patient());
    a.on_behalf_of = on_behalf(actor, a.patient);
    if (const auto u = engine_.catalog().find_unit(r.unit()->str())) a.unit = *u;
    return a;
}

Service::Answer Service::find(const wire::Find& f, const Actor& actor, fb::FlatBufferBuilder& b,
                              std::size_t& slots_left) {
    const auto query = codec::decode_query(f, engine_.catalog(), engine_.calendar());
    if (!query.ok()) return refused(b, query);
    if (query.value.limit > slots_left) {
        return refused(b, ErrorCode::invalid_request, "limit", codec::reply_slots_text.view());
    }
    const auto found = engine_.find(actor, query.value);
    if (!found.ok()) return refused(b, found);
    slots_left -= found.value.size();
    wire::Slot* out = nullptr;
    const auto slots = b.CreateUninitializedVectorOfStructs(found.value.size(), &out);
    for (const SlotView& s : found.value) *out++ = codec::to_wire(s);
    return accepted(b, wire::CreateSlotList(b, slots));
}

Service::Answer Service::hold(const wire::Hold& h, const Actor& actor, fb::FlatBufferBuilder& b) {
    const auto patient = codec::decode_patient(h.patient(), "patient");
    if (!patient.ok()) return refused(b, patient);
    if (!h.slot()) return refused(b, ErrorCode::invalid_request, "slot", "slot is required");
    const auto held = engine_.hold(actor, SlotId{*h.slot()}, patient.value);
    if (!held.ok()) return refused(b, held);
    const wire::Slot slot = codec::to_wire(held.value.slot);
    return accepted(b, wire::CreateHoldReply(b, held.value.id.value, held.value.expires_at.value,
                                             &slot, held.value.patient.value));
}

Service::Answer Service::book(const wire::Book& r, const Actor& actor, fb::FlatBufferBuilder& b) {
    const auto request = codec::decode_book(r, engine_.catalog(), engine_.calendar());
    if (!request.ok()) return refused(b, request);
    const auto booked = engine_.book(actor, request.value);
    if (!booked.ok()) return refused(b, booked);
    const auto booking = codec::encode_booking(b, booked.value);
    return accepted(b, wire::CreateBookingReply(b, booking));
}

Service::Answer Service::rebook(const wire::Rebook& r, const Actor& actor,
                                fb::FlatBufferBuilder& b) {
    const auto patient = request_patient(r.patient(), actor);
    if (!patient.ok()) return refused(b, patient);
    RebookRequest request;
    request.booking = BookingId{r.booking()};
    if (r.slot()) request.slot = SlotId{*r.slot()};
    request.patient = patient.value;
    const auto moved = engine_.rebook(actor, request);
    if (!moved.ok()) return refused(b, moved);
    return accepted(b, move_reply(b, moved.value));
}

Service::Answer Service::cancel(const wire::Cancel& r, const Actor& actor,
                                fb::FlatBufferBuilder& b) {
    const auto patient = request_patient(r.patient(), actor);
    if (!patient.ok()) return refused(b, patient);
    const auto cancelled = engine_.cancel(actor, BookingId{r.booking()}, patient.value);
    if (!cancelled.ok()) return refused(b, cancelled);
    return accepted(b, move_reply(b, cancelled.value));
}

Service::Answer Service::bookings(const wire::Bookings& r, const Actor& actor,
                                  fb::FlatBufferBuilder& b) {
    const auto patient = codec::decode_patient(r.patient(), "patient");
    if (!patient.ok()) return refused(b, patient);
    const auto list = engine_.bookings(actor, patient.value);
    if (!list.ok()) return refused(b, list);
    std::vector<fb::Offset<wire::Booking>> out;
    out.reserve(list.value.size());
    for (const BookingView& v : list.value) out.push_back(codec::encode_booking(b, v));
    return accepted(b, wire::CreateBookingList(b, b.CreateVector(out)));
}

Service::Answer Service::block(const wire::Block& r, const Actor& actor, fb::FlatBufferBuilder& b) {
    const auto resource = engine_.catalog().find_resource(r.resource()->str());
    if (!resource)
        return refused(b, ErrorCode::invalid_request, "resource", "no resource with this id");
    const auto from = codec::decode_time(r.from(), engine_.calendar(), false, "from");
    if (!from.ok()) return refused(b, from);
    const auto to = codec::decode_time(r.to(), engine_.calendar(), true, "to");
    if (!to.ok()) return refused(b, to);
    const std::string_view reason = r.reason() ? r.reason()->string_view() : std::string_view{};
    const auto text = codec::check_text(reason, ReasonText::capacity(), "reason",
                                        codec::reason_too_long_text.view());
    if (!text.ok()) return refused(b, text);
    const auto blocked = engine_.block(actor, *resource, from.value, to.value, reason);
    if (!blocked.ok()) return refused(b, blocked);
    return accepted(b, block_reply(b, blocked.value));
}

Service::Answer Service::unblock(const wire::Unblock& r, const Actor& actor,
                                 fb::FlatBufferBuilder& b) {
    const auto unblocked = engine_.unblock(actor, BlockId{r.block()});
    if (!unblocked.ok()) return refused(b, unblocked);
    return accepted(b, block_reply(b, unblocked.value));
}

Service::Answer Service::waitlist_add(const wire::WaitlistAdd& r, const Actor& actor,
                                      fb::FlatBufferBuilder& b) {
    const Catalog& c = engine_.catalog();
    const auto unit = c.find_unit(r.unit()->str());
    if (!unit) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    const auto type = c.find_type(r.appointment_type()->str());
    if (!type) {
        return refused(b, ErrorCode::invalid_request, "appointment_type",
                       "no appointment type with this id");
    }
    const auto patient = codec::decode_patient(r.patient(), "patient");
    if (!patient.ok()) return refused(b, patient);
    const auto added = engine_.waitlist_add(actor, *unit, *type, patient.value);
    if (!added.ok()) return refused(b, added);
    const auto entries = b.CreateVector(std::vector{entry(b, added.value)});
    return accepted(b, wire::CreateWaitlistReply(b, entries));
}

Service::Answer Service::waitlist_list(const wire::WaitlistList& r, const Actor& actor,
                                       fb::FlatBufferBuilder& b) {
    const auto unit = engine_.catalog().find_unit(r.unit()->str());
    if (!unit) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    const auto list = engine_.waitlist(actor, *unit);
    if (!list.ok()) return refused(b, list);
    std::vector<fb::Offset<wire::WaitlistEntry>> out;
    for (const WaitlistView& w : list.value) out.push_back(entry(b, w));
    return accepted(b, wire::CreateWaitlistReply(b, b.CreateVector(out)));
}

// The catalog as it is now (R9), as the caller's channel may see it (R7).
Service::Answer Service::catalog(const wire::GetCatalog& r, const Actor& actor,
                                 fb::FlatBufferBuilder& b) {
    std::optional<UnitIdx> only;
    if (r.unit()) {
        only = engine_.catalog().find_unit(r.unit()->str());
        if (!only) return refused(b, ErrorCode::invalid_request, "unit", "no unit with this id");
    }
    return accepted(b, codec::encode_catalog(b, engine_.catalog_now(), only, actor.channel));
}

Service::Answer Service::stats(fb::FlatBufferBuilder& b) {
    const ServerCounters& s = counters_;
    std::vector<fb::Offset<wire::OpCount>> counts;
    for (std::size_t op = 0; op < op_kind_count; ++op) {
        for (std::size_t outcome = 0; outcome < outcome_count; ++outcome) {
            const std::uint64_t n = s.ops.n[op][outcome].load(std::memory_order_relaxed);
            if (n == 0) continue;
            counts.push_back(wire::CreateOpCountDirect(
                b, std::string(to_string(static_cast<OpKind>(op))).c_str(),
                outcome == 0 ? "OK"
                             : std::string(to_string(static_cast<ErrorCode>(outcome))).c_str(),
                n));
        }
    }
    const auto load = [](const std::atomic<std::uint64_t>& a) {
        return a.load(std::memory_order_relaxed);
    };
    const double uptime_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count();
    const auto us = [&](double q) { return s.latency.quantile_ns(q) / 1000.0; };
    return accepted(
        b,
        wire::CreateStatsReply(
            b, uptime_s, load(s.messages), load(s.operations), load(s.in_flight),
            load(s.retries_answered), load(s.malformed), load(s.replies_dropped),
            load(s.events_published), load(s.holds_expired), us(0.5), us(0.9), us(0.99), us(0.999),
            static_cast<double>(s.latency.max_ns()) / 1000.0, b.CreateVector(counts), s.threads,
            engine_.slot_count(), load(s.events_committed), load(s.journal_failed_commits),
            b.CreateString(s.durability), load(s.accesses_recorded), s.keys,
            load(s.gate.handshakes_failed), load(s.gate.keys_refused), load(s.unlisted_refused),
            load(s.rate_limited), load(s.in_flight_limited)));
}

Service::Answer Service::set_clock(const wire::SetClock& r, const Actor& actor,
                                   fb::FlatBufferBuilder& b) {
    (void)actor;
    if (fixed_ == nullptr) {
        return refused(b, ErrorCode::invalid_request, "clock",
                       "the server runs on real time; only a server started with "
                       "--clock fixed:... lets its clock be set");
    }
    const auto t = engine_.calendar().parse_time(r.time()->string_view());
    if (!t) return refused(b, ErrorCode::invalid_request, "time", "not an ISO 8601 time");
    fixed_->set(*t);
    return accepted(b, wire::CreateClockReply(b, t->value));
}

}  // namespace slotmatch::tools
