#include "sidecar.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <slotmatch/assert.hpp>
#include <slotmatch/clock.hpp>
#include <slotmatch/codec.hpp>

namespace slotmatch::journal {

namespace {

zmq::message_t ack(const AppendResult& r, std::uint64_t committed) {
    flatbuffers::FlatBufferBuilder b(256);
    const auto error =
        r.error.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(r.error);
    b.Finish(wire::CreateJournalAck(b, committed, r.gap_expected, error),
             codec::journal_ack_identifier);
    return zmq::message_t(b.GetBufferPointer(), b.GetSize());
}

// Recovery: the stored events from `from` on, at most codec::replay_batch_events of them, as one
// EventBatch (empty past the end); a store that cannot be read answers with an ack naming why.
zmq::message_t replay(const EventStore& store, std::uint64_t from) {
    flatbuffers::FlatBufferBuilder b(std::size_t{1} << 20);
    std::vector<flatbuffers::Offset<wire::Event>> offsets;
    std::string why;
    const bool read = store.scan(
        from,
        [&](const Event& e) {
            offsets.push_back(codec::encode_event(b, e));
            return offsets.size() < codec::replay_batch_events;
        },
        why);
    if (!read) {
        std::cerr << "slotmatch-journal: cannot replay events from " << from << ": " << why << '\n';
        AppendResult r;
        r.error = "cannot read the store: " + why;
        return ack(r, store.last_seq());
    }
    SM_ASSERT(offsets.size() <= codec::replay_batch_events);
    b.Finish(wire::CreateEventBatch(b, b.CreateVector(offsets)), codec::event_batch_identifier);
    return zmq::message_t(b.GetBufferPointer(), b.GetSize());
}

// Recovery from a snapshot: the newest of the store's that reads and checks, as an EventBatch
// carrying its bytes (none: empty). The ones passed over are said on stderr.
zmq::message_t newest_snapshot_message(const EventStore& store, const SnapshotShelf* shelf) {
    std::optional<Snapshot> newest;
    if (shelf != nullptr) {
        newest = newest_snapshot(*shelf, store, [](const std::string& why) {
            std::cerr << "slotmatch-journal: " << why << '\n';
        });
    }
    const std::string bytes = newest ? encode_snapshot(*newest) : std::string();
    flatbuffers::FlatBufferBuilder b(bytes.size() + 1024);
    const auto body =
        b.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    wire::EventBatchBuilder batch(b);
    batch.add_snapshot(body);
    b.Finish(batch.Finish(), codec::event_batch_identifier);
    return zmq::message_t(b.GetBufferPointer(), b.GetSize());
}

void send_to(zmq::socket_t& router, zmq::message_t& identity, zmq::message_t&& body) {
    try {
        router.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(body, zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {  // the sender has gone; it resends when it returns
    }
}

// A query (a RequestMessage) -> [identity][ReplyMessage]; refused whole without the region.
void answer_query(zmq::socket_t& router, zmq::message_t& identity,
                  const wire::RequestMessage& request, StoreQueries* queries,
                  const keys::KeyHolder* key) {
    flatbuffers::FlatBufferBuilder b(4096);
    if (queries != nullptr) {
        queries->answer(request, b, key);
    } else {
        const auto error = codec::encode_error(
            b, ErrorCode::invalid_request, "config",
            "this slotmatch-journal was started without --config, so it answers no queries");
        b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, request.request_id(), error),
                 codec::reply_identifier);
    }
    send_to(router, identity, zmq::message_t(b.GetBufferPointer(), b.GetSize()));
}

}  // namespace

Instant Sidecar::now(const EventStore& store) {
    return std::max(RealClock().now(), store.last_time());
}

void Sidecar::run(zmq::socket_t& router, const std::atomic<bool>& stop,
                  const std::function<void()>& between) {
    LogPurgeSchedule purge;
    while (!stop.load(std::memory_order_relaxed)) {
        if (between) between();
        purge_if_due(store_, purge, now(store_), "slotmatch-journal");
        zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
        try {
            zmq::poll(&item, 1, std::chrono::milliseconds(100));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
            continue;  // a signal: look at the stop flag
        }
        while (!stop.load(std::memory_order_relaxed)) {
            const std::size_t served = serve_available(router);
            if (served == 0) break;
            batches_ += served;
        }
    }
}

std::size_t Sidecar::serve_available(zmq::socket_t& router) {
    Group group;
    while (group.events.size() < commit_events_max) {
        zmq::message_t identity, body;
        if (!router.recv(identity, zmq::recv_flags::dontwait)) break;
        if (!identity.more() || !router.recv(body, zmq::recv_flags::none)) continue;
        while (body.more()) (void)router.recv(body, zmq::recv_flags::none);  // not our framing
        take(router, std::move(identity), body, group);
    }
    if (group.pending.empty() && group.replays.empty() && group.snapshot_asks.empty()) return 0;
    const AppendResult committed = commit(group.events);
    const std::uint64_t through = store_.last_seq();
    for (Pending& p : group.pending) acknowledge(router, p, committed, through);
    // After the commit, so a replay sees every batch that arrived before it.
    for (auto& [identity, from] : group.replays) send_to(router, identity, replay(store_, from));
    for (zmq::message_t& identity : group.snapshot_asks) {
        send_to(router, identity, newest_snapshot_message(store_, shelf_));
    }
    return group.pending.size() + group.replays.size() + group.snapshot_asks.size();
}

void Sidecar::take(zmq::socket_t& router, zmq::message_t identity, const zmq::message_t& body,
                   Group& group) {
    const std::span<const std::uint8_t> bytes{static_cast<const std::uint8_t*>(body.data()),
                                              body.size()};
    // "SMW1" is a request, or an event batch of a slotmatchd older than the identifiers.
    const codec::MessageKind kind = codec::message_kind(bytes);
    // With --keys: the key the gate admitted, unless a reload (SIGHUP) has removed it since.
    const keys::KeyHolder* sender = keys_ ? keys_->current().find(keys::sender_key(body)) : nullptr;
    if (kind == codec::MessageKind::request) {
        if (const wire::RequestMessage* request = codec::verify_request(bytes)) {
            if (keys_ != nullptr && sender == nullptr) {
                flatbuffers::FlatBufferBuilder b(512);
                const auto error = codec::encode_error(
                    b, ErrorCode::unauthorized, "key",
                    "this key is no longer listed in the journal's clients.yaml");
                b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, request->request_id(),
                                                  error),
                         codec::reply_identifier);
                send_to(router, identity, zmq::message_t(b.GetBufferPointer(), b.GetSize()));
                return;
            }
            answer_query(router, identity, *request, queries_, sender);
            return;
        }
    }
    if (keys_ != nullptr && (sender == nullptr || sender->channel != keys::KeyChannel::engine)) {
        // Events and replays are a slotmatchd's: only keys listed with channel engine.
        Pending p{std::move(identity), 0, 0, {}, false};
        p.refusal = sender == nullptr
                        ? "this key is no longer listed in the journal's clients.yaml"
                        : "the key of " + sender->actor +
                              " is not a slotmatchd's (clients.yaml: channel engine); nothing "
                              "was stored";
        std::cerr << "slotmatch-journal: refused a message: " << p.refusal << '\n';
        group.pending.push_back(std::move(p));
        return;
    }
    const wire::EventBatch* batch =
        kind == codec::MessageKind::request || kind == codec::MessageKind::event_batch
            ? codec::verify_event_batch(bytes)
            : nullptr;
    if (batch != nullptr && batch->snapshot_wanted()) {
        group.snapshot_asks.push_back(std::move(identity));
        return;
    }
    if (batch != nullptr && batch->replay_from() > 0) {
        group.replays.emplace_back(std::move(identity), batch->replay_from());
        return;
    }
    group.pending.push_back(take_batch(std::move(identity), batch, group.events, group.configs));
}

Sidecar::Pending Sidecar::take_batch(zmq::message_t identity, const wire::EventBatch* batch,
                                     std::vector<Event>& events, ConfigArena& configs) {
    Pending p{std::move(identity), 0, 0, {}, false};
    if (batch == nullptr) {
        p.refusal = "not an event batch (it fails FlatBuffers verification)";
        std::cerr << "slotmatch-journal: refused a message: " << p.refusal << '\n';
        return p;
    }
    if (!batch->events() || batch->events()->size() == 0) {
        hello(*batch, p);
        return p;
    }
    p.first = batch->events()->Get(0)->seq();
    p.last = batch->events()->Get(batch->events()->size() - 1)->seq();
    if (batch->producer() != producer_) {
        // Only a hello makes a producer: a journal just started takes nobody's events until
        // one says hello (and checks, first, that what is stored after its acknowledged
        // number is its own).
        p.refusal = producer_ == 0
                        ? std::string(codec::link_hello_first) +
                              ": this journal has restarted; say hello again"
                        : std::string(codec::link_fenced) +
                              ": another slotmatchd has taken this journal over (its hello came "
                              "later); this server's events are refused";
        p.fenced = true;
        std::cerr << "slotmatch-journal: refused events " << p.first << ".." << p.last << ": "
                  << p.refusal << '\n';
        return p;
    }
    for (const wire::Event* e : *batch->events()) {
        events.push_back(codec::decode_event(*e, &configs));
    }
    return p;
}

void Sidecar::hello(const wire::EventBatch& batch, Pending& p) {
    if (batch.producer() == producer_) return;
    if (batch.expect() != store_.last_seq()) {
        // A server that has not seen every stored event (another one wrote after its recovery
        // or check) does not take the journal over.
        p.refusal = "another slotmatchd is writing to this journal: it holds " +
                    std::to_string(store_.last_seq()) + " events, this server knows of " +
                    std::to_string(batch.expect());
        std::cerr << "slotmatch-journal: refused a hello: " << p.refusal << '\n';
        return;
    }
    // The latest hello takes the journal over: a restarted slotmatchd has recovered from this
    // store, and the run before it, if still alive, is fenced off.
    if (producer_ != 0) {
        std::cerr << "slotmatch-journal: producer " << std::hex << batch.producer()
                  << " takes over from " << producer_ << std::dec
                  << "; events of the earlier one are refused from now on\n";
    }
    producer_ = batch.producer();
}

// What continues the log, in order: resent duplicates are dropped, and events beyond a gap
// wait (their batch is refused when acknowledged, and sent again).
AppendResult Sidecar::commit(std::vector<Event>& events) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.seq < b.seq; });
    std::vector<Event> next;
    next.reserve(events.size());
    std::uint64_t expected = store_.last_seq() + 1;
    for (const Event& e : events) {
        if (e.seq == expected) {
            next.push_back(e);
            ++expected;
        }
    }
    AppendResult committed;
    committed.ok = true;
    if (next.empty()) return committed;
    committed = store_.append(next);
    ++commits_;
    if (!committed.ok) {
        std::cerr << "slotmatch-journal: commit of " << next.size() << " events ("
                  << next.front().seq << ".." << next.back().seq << ") failed: " << committed.error
                  << '\n';
    } else {
        // Stored at least that far: more when a commit whose answer was lost had landed, and a
        // reconnected store read its own number back (new_events skipped what it held).
        SM_ASSERT(store_.last_seq() >= next.back().seq);
    }
    return committed;
}

void Sidecar::acknowledge(zmq::socket_t& router, Pending& p, const AppendResult& committed,
                          std::uint64_t through) {
    AppendResult r;
    if (!p.refusal.empty()) {
        r.error = p.refusal;
    } else if (p.last > through && !committed.ok) {
        r.error = committed.error;
    } else if (p.last > through) {
        r.gap_expected = through + 1;
        r.error = "a gap: the store holds events up to " + std::to_string(through) +
                  " and this batch starts at " + std::to_string(p.first);
        std::cerr << "slotmatch-journal: GAP: batch " << p.first << ".." << p.last
                  << " refused: " << r.error << '\n';
    }
    // A fenced producer is told nothing is committed for it: the store's number counts
    // another producer's events, which must not acknowledge this one's.
    send_to(router, p.identity, ack(r, p.fenced ? 0 : through));
}

}  // namespace slotmatch::journal
