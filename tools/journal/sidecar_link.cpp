#include "sidecar_link.hpp"

#include <random>
#include <slotmatch/codec.hpp>
#include <vector>

namespace slotmatch::journal {

namespace {

zmq::message_t encode_batch(flatbuffers::FlatBufferBuilder& b, std::span<const Event> events,
                            std::uint64_t producer, std::uint64_t expect = 0) {
    b.Clear();
    std::vector<flatbuffers::Offset<wire::Event>> offsets;
    offsets.reserve(events.size());
    for (const Event& e : events) offsets.push_back(codec::encode_event(b, e));
    b.Finish(wire::CreateEventBatch(b, b.CreateVector(offsets), 0, producer, expect),
             codec::event_batch_identifier);
    return zmq::message_t(b.GetBufferPointer(), b.GetSize());
}

// A DEALER to the journal. Nothing queues for a journal that is not connected, and little for
// one that is slow: unsent batches stay in the unacknowledged buffer (bounded), not in
// ZeroMQ's pipe.
std::optional<zmq::socket_t> link_socket(zmq::context_t& ctx, const std::string& endpoint,
                                         const LinkKeys& link, std::string& why) {
    zmq::socket_t socket(ctx, zmq::socket_type::dealer);
    if (link.on()) keys::make_curve_client(socket, link.mine, link.journal_public);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::immediate, 1);
    socket.set(zmq::sockopt::sndhwm, link_batches_in_flight_max);
    try {
        socket.connect(endpoint);
    } catch (const zmq::error_t& e) {
        why = "cannot connect to the journal at " + endpoint + ": " + e.what();
        return std::nullopt;
    }
    return socket;
}

// Sends `request` once the connection is up (with ZMQ_IMMEDIATE it cannot leave before) and
// waits for one answer, both within hello_timeout_ms.
std::optional<zmq::message_t> ask(zmq::socket_t& socket, const std::string& endpoint,
                                  const LinkKeys& link, zmq::message_t request, std::string& why) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(hello_timeout_ms);
    while (!socket.send(request, zmq::send_flags::dontwait) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::message_t m;
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0 ||
        !socket.recv(m, zmq::recv_flags::dontwait)) {
        why = "no journal answered at " + endpoint + " within " + std::to_string(hello_timeout_ms) +
              " ms (is slotmatch-journal running" +
              (link.on() ? std::string(", and does its clients.yaml list this server's key as an "
                                       "engine key?)")
                         : std::string("?)"));
        return std::nullopt;
    }
    return m;
}

}  // namespace

bool scan_remote(zmq::context_t& ctx, const std::string& endpoint, const LinkKeys& link,
                 const std::function<bool(const Event&)>& visit, std::string& why,
                 std::uint64_t from) {
    auto socket = link_socket(ctx, endpoint, link, why);
    if (!socket) return false;
    flatbuffers::FlatBufferBuilder b;
    for (;;) {
        b.Clear();
        b.Finish(wire::CreateEventBatch(b, 0, from), codec::event_batch_identifier);
        auto m =
            ask(*socket, endpoint, link, zmq::message_t(b.GetBufferPointer(), b.GetSize()), why);
        if (!m) return false;
        const std::span<const std::uint8_t> bytes{static_cast<const std::uint8_t*>(m->data()),
                                                  m->size()};
        const wire::EventBatch* batch = codec::verify_event_batch(bytes);
        if (batch == nullptr || batch->events() == nullptr) {
            const wire::JournalAck* ack = codec::verify_journal_ack(bytes);
            why = ack != nullptr && ack->error()
                      ? "the journal at " + endpoint + ": " + ack->error()->str()
                      : "the peer at " + endpoint + " is not a slotmatch journal";
            return false;
        }
        if (batch->events()->size() == 0) return true;
        for (const wire::Event* e : *batch->events()) {
            ConfigArena config;  // a settings change's, while `visit` looks at the event
            if (!visit(codec::decode_event(*e, &config))) return true;
        }
        from += batch->events()->size();
    }
}

std::optional<Snapshot> fetch_remote_snapshot(zmq::context_t& ctx, const std::string& endpoint,
                                              const LinkKeys& link, std::string& why) {
    auto socket = link_socket(ctx, endpoint, link, why);
    if (!socket) return std::nullopt;
    flatbuffers::FlatBufferBuilder b;
    wire::EventBatchBuilder ask_for(b);
    ask_for.add_snapshot_wanted(true);
    b.Finish(ask_for.Finish(), codec::event_batch_identifier);
    auto m = ask(*socket, endpoint, link, zmq::message_t(b.GetBufferPointer(), b.GetSize()), why);
    if (!m) return std::nullopt;
    const std::span<const std::uint8_t> bytes{static_cast<const std::uint8_t*>(m->data()),
                                              m->size()};
    const wire::EventBatch* batch = codec::verify_event_batch(bytes);
    if (batch == nullptr) {
        why = "the peer at " + endpoint + " is not a slotmatch journal";
        return std::nullopt;
    }
    if (batch->snapshot() == nullptr || batch->snapshot()->size() == 0) {
        why.clear();  // none: not a failure
        return std::nullopt;
    }
    const std::string_view body(reinterpret_cast<const char*>(batch->snapshot()->data()),
                                batch->snapshot()->size());
    std::optional<Snapshot> s = decode_snapshot(body, why);
    if (!s) {
        why = "the journal's snapshot: " + why;
        return std::nullopt;
    }
    // Its last event, as the journal's store holds it now.
    std::optional<std::uint64_t> stored;
    if (!scan_remote(
            ctx, endpoint, link,
            [&](const Event& e) {
                if (e.seq == s->fold.seq) stored = event_fingerprint(e);
                return false;
            },
            why, s->fold.seq)) {
        return std::nullopt;
    }
    if (stored != s->fingerprint) {
        why = "the journal's snapshot at event " + std::to_string(s->fold.seq) +
              " is not of the events it holds";
        return std::nullopt;
    }
    return s;
}

std::unique_ptr<RemoteJournal> RemoteJournal::connect(zmq::context_t& ctx,
                                                      const std::string& endpoint,
                                                      const LinkKeys& link,
                                                      const std::string& wake_endpoint,
                                                      std::size_t capacity, std::uint64_t recovered,
                                                      std::string& why) {
    auto socket = link_socket(ctx, endpoint, link, why);
    if (!socket) return nullptr;
    flatbuffers::FlatBufferBuilder b;
    // This run's producer id: the hello makes it the journal's producer (see EventBatch).
    std::random_device entropy;
    const std::uint64_t producer =
        (std::uint64_t{entropy()} << 32 | entropy()) ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    auto m =
        ask(*socket, endpoint, link, encode_batch(b, {}, producer | 1, recovered), why);  // hello
    if (!m) return nullptr;
    const wire::JournalAck* ack =
        codec::verify_journal_ack({static_cast<const std::uint8_t*>(m->data()), m->size()});
    if (ack == nullptr) {
        why = "the peer at " + endpoint + " is not a slotmatch journal";
        return nullptr;
    }
    if (ack->error()) {
        why = "the journal at " + endpoint + " refused this server: " + ack->error()->str();
        return nullptr;
    }
    std::unique_ptr<RemoteJournal> j(
        new RemoteJournal(ctx, ack->committed(), wake_endpoint, capacity));
    j->producer_ = producer | 1;  // never 0
    j->endpoint_ = endpoint;
    j->link_ = link;
    // submit() (the front thread) pokes the journal thread through this pair, so new events
    // leave at once instead of at the journal thread's next poll timeout.
    zmq::socket_t poked(ctx, zmq::socket_type::pull);
    const std::string poke = "inproc://slotmatchd-journal-poke";
    poked.bind(poke);
    j->poke_ = zmq::socket_t(ctx, zmq::socket_type::push);
    j->poke_.set(zmq::sockopt::sndhwm, 1);
    j->poke_.set(zmq::sockopt::linger, 0);
    j->poke_.connect(poke);
    j->thread_ =
        std::thread([raw = j.get(), s = std::move(*socket), p = std::move(poked)]() mutable {
            raw->run(std::move(s), std::move(p));
        });
    return j;
}

RemoteJournal::RemoteJournal(zmq::context_t& ctx, std::uint64_t committed,
                             const std::string& wake_endpoint, std::size_t capacity)
    : Journal(ctx, wake_endpoint, committed, capacity), ctx_(ctx), sent_through_(committed) {}

namespace {

// What identifies an event's change, to tell our events from another producer's with the
// same number.
bool same_change(const Event& a, const Event& b) {
    return a.seq == b.seq && a.kind == b.kind && a.time == b.time && a.booking == b.booking &&
           a.after.slot == b.after.slot && a.after.version == b.after.version &&
           a.before.slot == b.before.slot && a.before.version == b.before.version &&
           a.patient == b.patient && a.block == b.block;
}

}  // namespace

void RemoteJournal::hello_again() {
    hello_wanted_ = false;
    std::string why;
    const std::uint64_t acknowledged = committed_.load(std::memory_order_relaxed);
    // First read what the journal holds beyond our acknowledged number: each must be one of
    // our queued events (committed before the restart, its acknowledgement lost).
    std::vector<Event> ours;
    {
        std::lock_guard lock(mutex_);
        ours.assign(queue_.begin(), queue_.end());
    }
    std::size_t next = 0;
    bool mine = true;
    std::uint64_t through = acknowledged;
    const bool read = scan_remote(
        ctx_, endpoint_, link_,
        [&](const Event& stored) {
            if (stored.seq <= acknowledged) return true;
            while (next < ours.size() && ours[next].seq < stored.seq) ++next;
            if (next == ours.size() || !same_change(ours[next], stored)) {
                mine = false;
                return false;
            }
            through = stored.seq;
            return true;
        },
        why, acknowledged + 1);
    if (read && !mine) {
        fenced_ = true;
        std::lock_guard lock(mutex_);
        error_ = "fenced: the journal holds another slotmatchd's events after " +
                 std::to_string(through) + "; this server's changes are no longer committed";
        return;
    }
    auto socket = link_socket(ctx_, endpoint_, link_, why);
    flatbuffers::FlatBufferBuilder b;
    std::optional<zmq::message_t> m;
    if (read && socket)
        m = ask(*socket, endpoint_, link_, encode_batch(b, {}, producer_, through), why);
    const wire::JournalAck* ack =
        m ? codec::verify_journal_ack({static_cast<const std::uint8_t*>(m->data()), m->size()})
          : nullptr;
    if (ack != nullptr && (ack->error() || ack->committed() != through)) {
        // More was committed after our check, by another server: fenced.
        fenced_ = true;
        std::lock_guard lock(mutex_);
        error_ = "fenced: the journal holds events after " + std::to_string(through) +
                 " that this server did not write";
        return;
    }
    if (ack == nullptr) {  // no answer: try again later
        hello_wanted_ = true;
        std::lock_guard lock(mutex_);
        error_ = "journal: hello again: " + why;
        return;
    }
    {
        std::lock_guard lock(mutex_);
        while (!queue_.empty() && queue_.front().seq <= through) queue_.pop_front();
        error_.clear();
    }
    sent_through_ = through;
    advance(through);
}

void RemoteJournal::submitted() {
    (void)poke_.send(zmq::message_t(1), zmq::send_flags::dontwait);  // one pending poke is enough
}

void RemoteJournal::stop() {
    stopping_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
}

// Sends the next batch of events that have not been sent; false when there is none (or the
// link is full for now).
bool RemoteJournal::send_new(zmq::socket_t& socket, flatbuffers::FlatBufferBuilder& b) {
    if (fenced_ || hello_wanted_) return false;  // nothing of ours commits; or hello first
    if (std::chrono::steady_clock::now() < resume_at_) return false;  // pausing after a refusal
    std::vector<Event> batch;
    {
        std::lock_guard lock(mutex_);
        for (const Event& e : queue_) {
            if (e.seq <= sent_through_) continue;
            batch.push_back(e);
            if (batch.size() == link_batch_events_max) break;
        }
    }
    if (batch.empty()) return false;
    if (!socket.send(encode_batch(b, batch, producer_), zmq::send_flags::dontwait)) return false;
    sent_through_ = batch.back().seq;
    return true;
}

bool RemoteJournal::on_ack(const zmq::message_t& m) {
    const wire::JournalAck* ack =
        codec::verify_journal_ack({static_cast<const std::uint8_t*>(m.data()), m.size()});
    if (ack == nullptr) return false;
    const std::uint64_t through = ack->committed();
    bool progress = false;
    {
        std::lock_guard lock(mutex_);
        while (!queue_.empty() && queue_.front().seq <= through) {
            queue_.pop_front();
            progress = true;
        }
        if (ack->error()) {
            error_ = "journal: " + ack->error()->str();
        } else if (progress) {
            error_.clear();
        }
    }
    if (ack->error() && ack->error()->string_view().rfind(codec::link_hello_first, 0) == 0) {
        hello_wanted_ = true;  // the journal restarted and does not know us yet
    } else if (ack->error() && ack->error()->string_view().rfind(codec::link_fenced, 0) == 0) {
        fenced_ = true;  // another slotmatchd took the journal over: nothing of ours commits
    }
    if (ack->error()) {
        // Refused (a gap, a failed commit): everything after what the journal has is sent
        // again, after a pause, so a journal that keeps refusing is not flooded.
        failed_.fetch_add(1, std::memory_order_relaxed);
        sent_through_ = std::max(through, committed_.load(std::memory_order_relaxed));
        resume_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_pause_ms);
    }
    if (progress) advance(through);
    return progress;
}

void RemoteJournal::run(zmq::socket_t socket, zmq::socket_t poked) {
    flatbuffers::FlatBufferBuilder b(1 << 20);
    auto last_progress = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point stop_deadline{};
    for (;;) {
        if (hello_wanted_ && !fenced_ && std::chrono::steady_clock::now() >= resume_at_) {
            hello_again();
            if (hello_wanted_) {
                resume_at_ =
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_pause_ms);
            }
        }
        while (send_new(socket, b)) {
        }
        zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                                   {poked.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(poll_ms));
        zmq::message_t m;
        while (poked.recv(m, zmq::recv_flags::dontwait)) {
        }
        bool progress = false;
        while (socket.recv(m, zmq::recv_flags::dontwait)) progress |= on_ack(m);
        const auto now = std::chrono::steady_clock::now();
        if (progress) last_progress = now;
        bool waiting = false;
        {
            std::lock_guard lock(mutex_);
            waiting = !queue_.empty();
            if (waiting && now - last_progress > std::chrono::milliseconds(resend_after_ms)) {
                // No word for a while: the journal restarted or the link dropped. Send all that
                // is unacknowledged again; the journal skips what it already has.
                error_ = "no acknowledgement from the journal for " +
                         std::to_string(resend_after_ms) + " ms; resending from " +
                         std::to_string(committed_.load() + 1);
                sent_through_ = committed_.load();
                last_progress = now;
                failed_.fetch_add(1, std::memory_order_relaxed);
            }
        }
        if (stopping_.load(std::memory_order_relaxed)) {
            if (stop_deadline == std::chrono::steady_clock::time_point{}) {
                stop_deadline = now + std::chrono::seconds(2);
            }
            if (!waiting || now > stop_deadline) return;
        }
    }
}

}  // namespace slotmatch::journal
