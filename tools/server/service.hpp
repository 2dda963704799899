// The request → reply step of slotmatchd, without sockets: a verified RequestMessage is checked
// semantically (actor, ids, patients, times, bounds), each of its operations runs on the
// engine, and the answers are encoded as one ReplyMessage. answer() may run on several threads
// at once (the engine is thread-safe); everything else here belongs to the server's front
// thread.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <chrono>
#include <slotmatch/codec.hpp>
#include <slotmatch/engine.hpp>

#include "gate.hpp"
#include "key_actor.hpp"
#include "stats.hpp"
#include "store_queries.hpp"

namespace slotmatch::tools {

// What the server's front thread knows and the `stats` operation reports.
struct ServerCounters {
    std::atomic<std::uint64_t> messages{0};
    std::atomic<std::uint64_t> operations{0};
    std::atomic<std::uint64_t> in_flight{0};
    std::atomic<std::uint64_t> retries_answered{0};
    std::atomic<std::uint64_t> malformed{0};
    std::atomic<std::uint64_t> replies_dropped{0};
    std::atomic<std::uint64_t> events_published{0};
    std::atomic<std::uint64_t> accesses_recorded{0};  // accessed events among them
    std::atomic<std::uint64_t> holds_expired{0};
    std::atomic<std::uint64_t> events_committed{0};  // durable in the store (--store)
    std::atomic<std::uint64_t> journal_failed_commits{0};
    // With CurveZMQ keys (--keys): handshakes, and requests refused before the engine saw them.
    bool keys = false;
    keys::GateCounters gate;
    std::atomic<std::uint64_t> unlisted_refused{0};   // the key was removed by a reload (SIGHUP)
    std::atomic<std::uint64_t> rate_limited{0};       // over the key's rate (token bucket)
    std::atomic<std::uint64_t> in_flight_limited{0};  // over a connection's in-flight bound
    LatencyHistogram latency;
    OpCounters ops;
    unsigned threads = 1;
    std::string durability = "memory";  // memory | persisted | applied
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

class Service {
  public:
    // `fixed`: the clock `admin clock --set` moves; null when the server runs on real time.
    Service(Engine& engine, FixedClock* fixed, ServerCounters& counters);

    // Answers a verified request into `b` (cleared first, finished on return). `key`: the
    // registry entry of the CurveZMQ key it arrived under (null without keys), which decides
    // the channel, actor, name, units and roles; the request's own actor may only narrow them.
    void answer(const wire::RequestMessage& request, flatbuffers::FlatBufferBuilder& b,
                const keys::KeyHolder* key = nullptr);
    // A reply that refuses the whole message (malformed, wrong version, batch too large).
    static void refuse_message(flatbuffers::FlatBufferBuilder& b, std::uint64_t request_id,
                               ErrorCode code, std::string_view field, std::string_view message);
    // True when one of the request's operations changes state (its reply is kept for retries).
    static bool changes_state(const wire::RequestMessage& request);
    // True when the request reads a patient's bookings (an `accessed` event for the audit).
    // In persisted mode its reply, like a change's, waits until its events are committed, so
    // no read is answered before it is on record.
    static bool reads_patient_data(const wire::RequestMessage& request);
    // True when a reply refuses every operation with OVERLOADED: nothing was changed or read,
    // so it need not wait for the journal, and a retry should run again (not be cached).
    static bool all_overloaded(std::span<const std::uint8_t> reply);
    // A number that routes a request to the worker owning its first slot's shard
    // (resource × appointment type), so one shard's operations run on one thread.
    std::uint64_t shard_key(const wire::RequestMessage& request) const;

    Engine& engine() { return engine_; }
    // Where the web booking log and the audit are read: the store's reader (slotmatchd
    // --store); without one GetLog and GetAudit are refused with `no_store_why` (no store, or
    // the store is the sidecar's).
    void set_store_queries(journal::StoreQueries* queries, std::string no_store_why) {
        queries_ = queries;
        no_store_why_ = std::move(no_store_why);
    }

    // One operation's answer: its outcome (counted per operation) and the encoded Result.
    struct Answer {
        ErrorCode code = ErrorCode::ok;
        flatbuffers::Offset<wire::Result> result;
    };

  private:
    using Result = Answer;
    Result run(const wire::Op& op, const Actor& actor, flatbuffers::FlatBufferBuilder& b,
               std::size_t& slots_left);
    Result find(const wire::Find& f, const Actor& actor, flatbuffers::FlatBufferBuilder& b,
                std::size_t& slots_left);
    Result hold(const wire::Hold& h, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result book(const wire::Book& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result rebook(const wire::Rebook& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result cancel(const wire::Cancel& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result bookings(const wire::Bookings& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result block(const wire::Block& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result unblock(const wire::Unblock& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result waitlist_add(const wire::WaitlistAdd& r, const Actor& actor,
                        flatbuffers::FlatBufferBuilder& b);
    Result waitlist_list(const wire::WaitlistList& r, const Actor& actor,
                         flatbuffers::FlatBufferBuilder& b);
    Result catalog(const wire::GetCatalog& r, const Actor& actor,
                   flatbuffers::FlatBufferBuilder& b);
    Result stats(flatbuffers::FlatBufferBuilder& b);
    Result set_clock(const wire::SetClock& r, const Actor& actor,
                     flatbuffers::FlatBufferBuilder& b);
    Result from_store(const wire::Op& op, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result get_booking(const wire::GetBooking& r, const Actor& actor,
                       flatbuffers::FlatBufferBuilder& b);  // service_booking.cpp
    // Administration: schedules and slots (service_admin.cpp).
    Result administer(const wire::Op& op, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result publish_schedule(const wire::PublishSchedule& r, const Actor& actor,
                            flatbuffers::FlatBufferBuilder& b);
    Result extend_schedule(const wire::ExtendSchedule& r, const Actor& actor,
                           flatbuffers::FlatBufferBuilder& b);
    Result end_schedule(const wire::EndSchedule& r, const Actor& actor,
                        flatbuffers::FlatBufferBuilder& b);
    Result add_slot(const wire::AddSlot& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result set_slot_type(const wire::SetSlotType& r, const Actor& actor,
                         flatbuffers::FlatBufferBuilder& b);
    Result set_type(const wire::SetType& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result add_type(const wire::AddType& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result remove_type(const wire::RemoveType& r, const Actor& actor,
                       flatbuffers::FlatBufferBuilder& b);
    Result set_unit(const wire::SetUnit& r, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    Result patient_op(const wire::Op& op, const Actor& actor, flatbuffers::FlatBufferBuilder& b);
    static bool is_patient_op(const wire::Op& op);

    // The access audit (Patientdatalagen): a read (`read`), or a refused change, of a patient's
    // bookings is published as an `accessed` event; a successful change is its own event and
    // costs nothing more. `access` is computed only when an entry is made. When the event
    // rings have no room the answer becomes OVERLOADED: nothing goes unrecorded.
    template <typename AccessOf>
    Result audited(Result a, bool read, const Actor& actor, AccessOf access,
                   flatbuffers::FlatBufferBuilder& b);
    AccessRecord access_of(const wire::Op& op, const Actor& actor) const;  // a patient op's
    AccessRecord access_of(const wire::Hold& r, const Actor& actor) const;
    AccessRecord access_of(const wire::Book& r, const Actor& actor) const;
    AccessRecord access_of(std::uint64_t booking, const flatbuffers::String* patient,
                           AccessAction action, const Actor& actor) const;
    AccessRecord access_of(const wire::Bookings& r, const Actor& actor) const;
    AccessRecord access_of(const wire::WaitlistAdd& r, const Actor& actor) const;

    Engine& engine_;
    FixedClock* fixed_;
    ServerCounters& counters_;
    journal::StoreQueries* queries_ = nullptr;
    std::string no_store_why_ =
        "this slotmatchd keeps no store (start it with --store), so it has no web booking log "
        "and no access audit";
};

}  // namespace slotmatch::tools
