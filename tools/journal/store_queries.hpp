// Queries over the journal's store: the web booking log (R19-R23, `slotmatch log`) and the
// access audit (Patientdatalagen, `slotmatch audit`). They run on
// a reader connection of their own, never on the connection the journal commits through
// (SQLite in WAL mode lets a reader see every committed transaction while the writer goes on;
// PostgreSQL gets a second connection). slotmatchd --store answers them through Service;
// slotmatch-journal --config answers them on its ROUTER (docs/protocol.md).
//
// Only the unit's own staff may read its log: the staff channel, acting from that unit. Only
// staff may read a patient's audit.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <functional>
#include <memory>
#include <mutex>
#include <slotmatch/calendar.hpp>
#include <slotmatch/catalog.hpp>
#include <slotmatch/codec.hpp>

#include "event_store.hpp"
#include "key_actor.hpp"

namespace slotmatch::journal {

class StoreQueries {
  public:
    // `now`: the time the 31-day window (R20) ends at; rows older than that are never shown,
    // even before the purge has removed them.
    StoreQueries(const Catalog& catalog, const Calendar& calendar,
                 std::unique_ptr<EventStore> reader, std::function<Instant()> now);

    struct Answer {
        ErrorCode code = ErrorCode::ok;
        flatbuffers::Offset<wire::Result> result;
    };
    // One GetLog operation (thread-safe: queries take turns on the reader).
    Answer log(const wire::GetLog& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Answer audit(const wire::GetAudit& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Answer catalog(const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    // The events that made booking `id` (booked, or the rebook that moved a booking into it)
    // and that ended it (cancelled, or rebooked away), among the events filed under `patient`
    // (the access audit's index). `made` is empty when the patient has no such booking; nothing,
    // with `why`, when the store cannot be read.
    struct BookingEvents {
        std::optional<Event> made;
        std::optional<Event> ended;
    };
    std::optional<BookingEvents> booking_events(BookingId id, PatientKey patient, std::string& why);
    // A whole request message, as slotmatch-journal answers it: GetLog, GetAudit and GetCatalog
    // (the CLI names catalog entities with it); any other operation is refused.
    // `key`: the registry entry of the CurveZMQ key the request arrived under (the journal's
    // --keys), which decides who acts; null without keys.
    void answer(const wire::RequestMessage& request, flatbuffers::FlatBufferBuilder& b,
                const keys::KeyHolder* key = nullptr);

    static Answer refused(flatbuffers::FlatBufferBuilder& b, ErrorCode code, std::string_view field,
                          std::string_view message);

  private:
    // The start of the window: `since` (if given) but never before now - 31 days.
    Outcome<Instant> window_start(const flatbuffers::String* since) const;

    const Catalog& catalog_;
    const Calendar& calendar_;
    std::function<Instant()> now_;
    std::mutex mutex_;
    std::unique_ptr<EventStore> reader_;  // under mutex_
};

}  // namespace slotmatch::journal
