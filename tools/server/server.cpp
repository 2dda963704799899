#include "server.hpp"

#include <pthread.h>
#include <signal.h>

#include <array>
#include <cstring>
#include <deque>
#include <iostream>
#include <slotmatch/assert.hpp>
#include <thread>
#include <unordered_map>
#include <zmq.hpp>

#include "retry_cache.hpp"
#include "sidecar_link.hpp"

namespace slotmatch::tools {

namespace {

using Clock = std::chrono::steady_clock;

// A ROUTER message: the envelope (the client's identity, and the empty delimiter of a REQ
// client) followed by the body. More frames than this are not a slotmatch client.
constexpr std::size_t frames_max = 4;
// One burst reads at most this many operations (plus one message's worth) before events are
// drained, so a lane of the engine's event rings (event_lane_events) never fills from a burst.
constexpr std::size_t burst_ops_max = 1024;
constexpr std::size_t burst_messages_max = 256;
constexpr std::size_t drain_batch_events = 4096;
constexpr int poll_timeout_ms_max = 100;
// Requests at the workers, all together. While this many are out the front thread stops
// reading the ROUTER: clients queue in ZeroMQ (fair-queued, so a flooding client does not
// crowd out the others) and TCP pushes back. Each worker queue holds this many, so a
// dispatch never finds its worker's queue full; if it ever did, that message would be
// refused with OVERLOADED rather than block the front thread.
constexpr std::size_t at_workers_max = 4096;
constexpr int worker_queue_messages_max = static_cast<int>(at_workers_max);
// Stopping: at most this long to answer what has arrived, and again for the workers to finish
// (with the socket's linger, within the 10 s a supervisor such as ServerProcess waits).
constexpr auto shutdown_wait = std::chrono::seconds(2);
// While stopping, how long a quiet socket is watched before it counts as drained (ZeroMQ's
// I/O thread may still be moving requests from TCP into the queue).
constexpr auto drain_quiet = std::chrono::milliseconds(200);
// Starting: at most this long for the journal to take the start's events (a national region's
// first start records some 70,000).
constexpr auto startup_wait = std::chrono::seconds(120);

// Room for a client's frames plus the tag the front thread puts ahead of them for a worker.
struct Frames {
    std::array<zmq::message_t, frames_max + 1> part;
    std::size_t n = 0;
    bool too_many = false;

    zmq::message_t& body() { return part[n - 1]; }
    std::span<const std::uint8_t> body_bytes() {
        return {static_cast<const std::uint8_t*>(body().data()), body().size()};
    }
};

// Reads one whole message without blocking; false when none is waiting. Frames beyond `limit`
// are read and dropped, and the message is marked too_many.
bool receive(zmq::socket_t& s, Frames& f, std::size_t limit) {
    SM_ASSERT(limit <= f.part.size());
    f.n = 0;
    f.too_many = false;
    zmq::message_t spill;
    if (!s.recv(f.part[0], zmq::recv_flags::dontwait)) return false;
    f.n = 1;
    bool more = f.part[0].more();
    while (more) {
        zmq::message_t& into = f.n < limit ? f.part[f.n] : spill;
        (void)s.recv(into, zmq::recv_flags::none);  // the rest of a message is already here
        more = into.more();
        if (f.n < limit) {
            ++f.n;
        } else {
            f.too_many = true;
        }
    }
    return true;
}

// Sends frames [first, n) of `f` with `body` last. False when the client is gone or not
// reading (ROUTER_MANDATORY reports both instead of dropping silently).
bool send_reply(zmq::socket_t& s, Frames& f, std::size_t first, zmq::message_t&& body) {
    try {
        for (std::size_t i = first; i + 1 < f.n; ++i) {
            if (!s.send(f.part[i], zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
                return false;
            }
        }
        return s.send(body, zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {  // EHOSTUNREACH: the client has disconnected
        return false;
    }
}

// A change to remember for retries, known by the hash of (key, client, request id), or without
// keys (channel, actor, client, request id): only the same key's (actor's) retry from the same
// client sees the stored answer, in that key's cache. Unkeyed: not kept.
struct RetryKey {
    bool keyed = false;
    std::uint64_t hash = 0;
    RetryCache* cache = nullptr;
};

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
    return codec::mix64(h ^ (v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2)));
}

RetryKey retry_key(const wire::RequestMessage& m, const keys::KeyHolder* key, RetryCache& cache) {
    const auto text = [](const flatbuffers::String* s) {
        return std::hash<std::string_view>{}(s ? s->string_view() : std::string_view{});
    };
    std::uint64_t h =
        key ? std::hash<std::string_view>{}(key->key)
            : mix(static_cast<std::uint64_t>(m.actor()->channel()), text(m.actor()->id()));
    h = mix(h, text(m.client()));
    return {true, mix(h, m.request_id()), &cache};
}

// Worker messages: [tag][envelope...][body]; the tag is the receive time, the retry key and the
// registry entry of the request's key.
struct Tag {
    std::int64_t received_ns = 0;
    RetryKey key;
    bool durable = false;                     // the reply waits for the journal (persisted mode)
    const keys::KeyHolder* sender = nullptr;  // valid for the run (KeyRing keeps every registry)
};
static_assert(std::is_trivially_copyable_v<Tag>);
zmq::message_t encode_tag(const Tag& t) {
    return zmq::message_t(&t, sizeof t);
}
Tag decode_tag(const zmq::message_t& m) {
    Tag t;
    SM_ASSERT(m.size() == sizeof t);
    std::memcpy(&t, m.data(), sizeof t);
    return t;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// `abandon`: set when stopping has run out of time; the worker then drops what is queued.
void worker_main(zmq::context_t& ctx, const std::string& endpoint, Service& service,
                 const keys::KeyRing* keys, const std::atomic<bool>& abandon) {
    zmq::socket_t pair(ctx, zmq::socket_type::pair);
    // Room for every reply the worker can owe (at most at_workers_max messages are out), so
    // its sends never block, whatever the front thread is doing.
    pair.set(zmq::sockopt::sndhwm, 2 * worker_queue_messages_max);
    pair.set(zmq::sockopt::rcvhwm, 2 * worker_queue_messages_max);
    pair.connect(endpoint);
    // Connected: the front thread waits for this before it serves, since its sends to a
    // worker never wait (dontwait), and one sent before the connection would be refused.
    pair.send(zmq::message_t(), zmq::send_flags::none);
    flatbuffers::FlatBufferBuilder builder(64 * 1024);
    Frames f;
    for (;;) {
        zmq::pollitem_t item{pair.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(-1));
        while (receive(pair, f, frames_max + 1)) {
            if (f.n == 1 && f.part[0].size() == 0) return;  // the front thread says stop
            SM_ASSERT(!f.too_many && f.n >= 3);  // [tag][identity ...][body], as the front sent
            if (abandon.load(std::memory_order_relaxed)) continue;
            // The front thread verified the body; the bytes are the same message.
            const Tag tag = decode_tag(f.part[0]);
            const keys::KeyHolder* sender =
                tag.sender != nullptr ? keys->handed_over(tag.sender) : nullptr;
            service.answer(*flatbuffers::GetRoot<wire::RequestMessage>(f.body().data()), builder,
                           sender);
            pair.send(f.part[0], zmq::send_flags::sndmore);
            for (std::size_t i = 1; i + 1 < f.n; ++i)
                pair.send(f.part[i], zmq::send_flags::sndmore);
            pair.send(zmq::message_t(builder.GetBufferPointer(), builder.GetSize()),
                      zmq::send_flags::none);
        }
    }
}

// The engine's clock as a Clock (the embedded journal purges the web booking log by it).
class EngineClock final : public slotmatch::Clock {
  public:
    explicit EngineClock(const Engine& engine) : engine_(engine) {}
    Instant now() const override { return engine_.now(); }

  private:
    const Engine& engine_;
};

class Front {
  public:
    Front(Service& service, ServerCounters& counters, const ServerOptions& options,
          zmq::context_t& ctx, JournalConfig journal)
        : journal_config_(std::move(journal)),
          engine_clock_(service.engine()),
          service_(service),
          counters_(counters),
          options_(options),
          ctx_(ctx),
          router_(ctx, zmq::socket_type::router),
          cache_(options.retry_entries_max, options.retry_bytes_max),
          builder_(64 * 1024),
          events_(drain_batch_events),
          journal_wake_(ctx, zmq::socket_type::pull) {}

    int run(const std::atomic<bool>& stop,
            const std::function<void(const std::string&)>& on_listening, const Startup& startup);

  private:
    bool bind();  // false after saying why
    // Before serving: drains the engine's events into the journal until its lanes have room
    // again (waiting for the journal when its buffer is full).
    void make_room();
    // Before serving: every drained event committed (false after saying why, within a bound).
    bool commit_everything();
    int open_journal();  // 0, or the exit code after saying why
    void serve(const std::atomic<bool>& stop);
    void answer_what_has_arrived();
    void stop_journal();
    int wait_for_input(std::chrono::milliseconds timeout);
    std::size_t burst(Frames& f);
    void on_request(Frames& f);
    // A change seen before under its key: answered from the cache, refused as a conflict, or
    // left to the first copy's answer; false when it is new (it runs).
    bool answered_as_retry(Frames& f, const wire::RequestMessage& m, std::int64_t received_ns,
                           RetryKey key);
    // False after refusing with OVERLOADED: over the key's rate, or the connection's bound.
    // `sender_key`: the key the message came under (empty without keys); `sender`: its entry,
    // null when a reload has removed it.
    bool within_limits(Frames& f, const wire::RequestMessage* m, std::int64_t received_ns,
                       std::string_view sender_key, const keys::KeyHolder* sender);
    void refuse(Frames& f, std::uint64_t request_id, std::int64_t received_ns, ErrorCode code,
                std::string_view field, std::string_view why);
    RetryCache& cache_for(const keys::KeyHolder* sender);
    void connection_done(const zmq::message_t& routing_id);  // one of its requests is answered
    void reload_keys();
    void dispatch(Frames& f, const wire::RequestMessage& m, const Tag& tag);
    void on_worker_reply(Frames& f);
    // Sends an answer; a keyed `key` stores it for retries; `answered` ends an in-flight one;
    // `durable` holds it until the journal has committed its events (persisted mode).
    void reply(Frames& f, std::size_t first, zmq::message_t&& body, std::int64_t received_ns,
               RetryKey key, bool answered, bool durable = false);
    // A reply waiting for the journal.
    struct Held {
        std::array<zmq::message_t, frames_max> envelope;
        std::size_t envelope_frames = 0;
        zmq::message_t body;
        std::uint64_t seq = unassigned;    // the event it waits for
        std::vector<std::uint64_t> heads;  // each event lane's published count at the answer
        std::int64_t received_ns = 0;
        RetryKey key;
        static constexpr std::uint64_t unassigned = ~std::uint64_t{0};
    };
    void send_now(Held& h);
    void release_durable();  // sends the held replies whose events are committed
    std::size_t drain_events();
    void sweep_holds();
    void open_gate();
    void start_workers();
    void stop_workers();

    JournalConfig journal_config_;  // turned into the journal in run()
    EngineClock engine_clock_;      // before the journal, which reads it until it stops
    std::unique_ptr<journal::Journal> journal_owner_;
    Service& service_;
    ServerCounters& counters_;
    const ServerOptions& options_;
    zmq::context_t& ctx_;
    zmq::socket_t router_;
    std::unique_ptr<keys::Gate> gate_;  // with keys: before the router binds, closed after it
    RetryCache cache_;                  // without keys
    std::unordered_map<std::string, RetryCache> key_caches_;  // with keys: one per key
    struct Bucket {  // a key's token bucket: tokens now, refilled at the key's rate
        double tokens = 0;
        Clock::time_point at{};
    };
    struct TextHash {  // maps below found by a string_view, without a copy per message
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, Bucket, TextHash, std::equal_to<>> buckets_;  // by key
    std::unordered_map<std::string, std::uint32_t, TextHash, std::equal_to<>>
        connection_in_flight_;  // by routing id
    flatbuffers::FlatBufferBuilder builder_;
    std::vector<Event> events_;
    std::vector<zmq::socket_t> workers_;
    std::vector<std::thread> worker_threads_;
    std::size_t burst_ops_ = 0;
    std::size_t at_workers_ = 0;  // messages sent to workers and not yet answered
    std::atomic<bool> abandon_workers_{false};
    // The embedded journal (--store): events go to it, and in persisted mode replies to
    // state-changing messages wait in held_ (in order) until it has committed their events.
    journal::Journal* journal_ = nullptr;
    bool persisted_ = false;
    zmq::socket_t journal_wake_;
    std::deque<Held> held_;
    std::uint64_t drained_through_ = 0;  // the highest sequence number drained so far
    bool lanes_empty_ = true;            // the last drain took everything there was
    Clock::time_point last_journal_report_{};
};

int Front::run(const std::atomic<bool>& stop,
               const std::function<void(const std::string&)>& on_listening,
               const Startup& startup) {
    if (!bind()) return 2;
    if (const int rc = open_journal(); rc != 0) return rc;
    if (startup) {
        const int rc = startup([this] { make_room(); });
        if (rc != 0) {
            // A refused start: what it changed is still in the engine's rings, and stays
            // there (only a start long enough to fill them has handed the journal a part).
            if (journal_ != nullptr) journal_->stop();
            router_.close();
            return rc;
        }
        if (!commit_everything()) {
            stop_journal();
            router_.close();
            return 1;
        }
    }
    start_workers();
    if (options_.reload != nullptr) {
        // Every thread of the server is up, born with SIGHUP blocked (install_reload_handler):
        // from now on it interrupts this thread's poll alone, and one that came early is here.
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
    }
    on_listening(router_.get(zmq::sockopt::last_endpoint));
    serve(stop);
    // Stopping: answer what has already arrived (bounded in time), then let the workers finish,
    // then the journal, then close the socket, which lingers so that the last replies leave.
    answer_what_has_arrived();
    stop_workers();
    drain_events();
    stop_journal();
    router_.close();
    return 0;
}

void Front::make_room() {
    const auto deadline = Clock::now() + startup_wait;
    for (;;) {
        drain_events();
        if (lanes_empty_ || Clock::now() > deadline) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the journal is behind
    }
}

bool Front::commit_everything() {
    const auto deadline = Clock::now() + startup_wait;
    drain_events();
    while (journal_ && (!lanes_empty_ || journal_->committed() < drained_through_)) {
        if (Clock::now() > deadline) {
            std::cerr << "slotmatchd: the start's events were not committed within "
                      << std::chrono::duration_cast<std::chrono::seconds>(startup_wait).count()
                      << " s: " << journal_->error() << '\n';
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        drain_events();
    }
    return true;
}

bool Front::bind() {
    if (options_.keys) {
        try {
            gate_ = std::make_unique<keys::Gate>(
                ctx_, router_, options_.server_key, *options_.keys,
                std::vector{keys::KeyChannel::web, keys::KeyChannel::proxy,
                            keys::KeyChannel::staff},
                "slotmatchd", counters_.gate);
        } catch (const zmq::error_t& e) {
            std::cerr << "slotmatchd: cannot serve with CurveZMQ keys (this libzmq refuses "
                         "CurveZMQ or ZAP enforcement): "
                      << e.what() << '\n';
            return false;
        }
    }
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(codec::message_bytes_max));
    router_.set(zmq::sockopt::sndhwm, options_.send_hwm_messages);
    router_.set(zmq::sockopt::rcvhwm, options_.receive_hwm_messages);
    router_.set(zmq::sockopt::linger, options_.linger_ms);
    try {
        router_.bind(options_.listen);
    } catch (const zmq::error_t& e) {
        std::cerr << "slotmatchd: cannot listen on " << options_.listen << ": " << e.what() << '\n';
        return false;
    }
    return true;
}

int Front::open_journal() {
    if (!journal_config_.store && journal_config_.remote.empty()) return 0;  // memory only
    const std::string wake = "inproc://slotmatchd-journal-wake";
    journal_wake_.bind(wake);
    if (journal_config_.store) {
        journal_owner_ = std::make_unique<journal::EmbeddedJournal>(
            std::move(journal_config_.store), ctx_, wake, journal_config_.buffer_events,
            engine_clock_);
    } else {
        std::string why;
        journal_owner_ = journal::RemoteJournal::connect(
            ctx_, journal_config_.remote, journal_config_.remote_keys, wake,
            journal_config_.buffer_events, service_.engine().events().next_seq() - 1, why);
        if (!journal_owner_) {
            std::cerr << "slotmatchd: " << why << '\n';
            return 1;
        }
    }
    if (journal_owner_->next_seq() != service_.engine().events().next_seq()) {
        // The engine recovered from the store before this; a journal that holds another
        // number of events is not the one it recovered from (or was written to since).
        std::cerr << "slotmatchd: the journal holds " << journal_owner_->next_seq() - 1
                  << " events, but the engine recovered "
                  << service_.engine().events().next_seq() - 1
                  << ": another slotmatchd is writing to it, or it is another store\n";
        journal_owner_->stop();
        return 1;
    }
    journal_ = journal_owner_.get();
    persisted_ = options_.persisted;
    return 0;
}

// The pipeline's loop: wait, read a burst, sweep expired holds when due, drain the events.
void Front::serve(const std::atomic<bool>& stop) {
    auto next_sweep = Clock::now();
    Frames f;
    while (!stop.load(std::memory_order_relaxed)) {
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_sweep - Clock::now());
        wait_for_input(
            std::chrono::milliseconds(std::clamp<long>(wait.count(), 0, poll_timeout_ms_max)));
        if (stop.load(std::memory_order_relaxed)) break;
        if (options_.reload && options_.reload->exchange(false)) reload_keys();
        burst(f);
        if (Clock::now() >= next_sweep) {  // before the drain, which then takes its events
            sweep_holds();
            next_sweep = Clock::now() + std::chrono::milliseconds(options_.hold_sweep_interval_ms);
        }
        drain_events();
    }
}

void Front::answer_what_has_arrived() {
    const auto deadline = Clock::now() + shutdown_wait;
    Frames f;
    while (Clock::now() < deadline) {
        const std::size_t handled = burst(f);
        drain_events();
        if (handled > 0) continue;
        if (wait_for_input(drain_quiet) == 0 && at_workers_ == 0) break;  // drained
    }
}

// Every event still in the engine's rings goes to the journal, and the replies that wait for it
// leave once it has committed their events; the router is no longer read, so the wait is a
// sleep, not a poll.
void Front::stop_journal() {
    if (journal_ == nullptr) return;
    const auto journal_deadline = Clock::now() + shutdown_wait;
    while ((!held_.empty() || !lanes_empty_) && Clock::now() < journal_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        drain_events();
    }
    if (!lanes_empty_) {
        std::cerr << "slotmatchd: stopping with events the journal had no room for; they are "
                     "lost: "
                  << journal_->error() << '\n';
    }
    journal_->stop();  // delivers what is queued, within bounded attempts
    release_durable();
    if (journal_->committed() < drained_through_) {
        std::cerr << "slotmatchd: the journal did not commit events " << journal_->committed() + 1
                  << ".." << drained_through_ << " before the stop: " << journal_->error() << '\n';
    }
    journal_ = nullptr;
    journal_owner_.reset();
}

// Waits until a request (while the workers have room) or a worker's reply may be read, at most
// `timeout`; the number of ready sockets, 0 on timeout or when a signal interrupts the wait.
int Front::wait_for_input(std::chrono::milliseconds timeout) {
    const bool reading = workers_.empty() || at_workers_ < at_workers_max;
    std::vector<zmq::pollitem_t> items{
        {router_.handle(), 0, static_cast<short>(reading ? ZMQ_POLLIN : 0), 0}};
    for (auto& w : workers_) items.push_back({w.handle(), 0, ZMQ_POLLIN, 0});
    if (journal_) items.push_back({journal_wake_.handle(), 0, ZMQ_POLLIN, 0});
    int ready = 0;
    try {
        ready = zmq::poll(items, timeout);
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        return 0;  // a signal: the caller looks at the stop flag
    }
    if (journal_ && (items.back().revents & ZMQ_POLLIN)) {  // the journal has committed more
        zmq::message_t m;
        while (journal_wake_.recv(m, zmq::recv_flags::dontwait)) {
        }
        release_durable();
    }
    return ready;
}

// Reads up to a burst of requests (not while the workers hold at_workers_max) and collects
// the workers' replies; returns how many messages it handled.
std::size_t Front::burst(Frames& f) {
    std::size_t handled = 0;
    burst_ops_ = 0;
    for (std::size_t n = 0; n < burst_messages_max && burst_ops_ < burst_ops_max &&
                            (workers_.empty() || at_workers_ < at_workers_max);
         ++n) {
        if (!receive(router_, f, frames_max)) break;
        on_request(f);
        ++handled;
    }
    for (auto& w : workers_) {
        while (receive(w, f, frames_max + 1)) {
            on_worker_reply(f);
            ++handled;
        }
    }
    return handled;
}

void Front::on_request(Frames& f) {
    const std::int64_t received_ns = now_ns();
    if (f.too_many) {  // not a slotmatch client's framing: answer the identity alone
        counters_.malformed.fetch_add(1, std::memory_order_relaxed);
        f.n = 2;  // the identity, then the reply in place of the body
        refuse(f, 0, received_ns, ErrorCode::invalid_request, "message",
               "at most 4 frames per message, counting the identity the ROUTER adds: the "
               "request is the last frame, after a REQ socket's empty delimiter");
        return;
    }
    const wire::RequestMessage* m = codec::verify_request(f.body_bytes());
    const std::uint64_t id = m ? m->request_id() : 0;
    // Refusals in the contract's order: OVERLOADED, INVALID_REQUEST, UNAUTHORIZED. The limits
    // count every message of a key, malformed ones and those of a key a reload removed too.
    const std::string_view sender_key = options_.keys ? keys::sender_key(f.body()) : "";
    const keys::KeyHolder* sender =
        options_.keys ? options_.keys->current().find(sender_key) : nullptr;
    if (!within_limits(f, m, received_ns, sender_key, sender)) return;
    if (m == nullptr) {
        counters_.malformed.fetch_add(1, std::memory_order_relaxed);
        refuse(f, 0, received_ns, ErrorCode::invalid_request, "message",
               "not a slotmatch request: the bytes fail FlatBuffers verification against "
               "codec/slotmatch.fbs");
        return;
    }
    if (m->client() && m->client()->size() > codec::client_bytes_max) {
        refuse(f, id, received_ns, ErrorCode::invalid_request, "client",
               codec::client_too_long_text.view());
        return;
    }
    if (options_.keys && sender == nullptr) {
        // The gate admitted the connection under its key; a reload since has removed it.
        counters_.unlisted_refused.fetch_add(1, std::memory_order_relaxed);
        refuse(f, id, received_ns, ErrorCode::unauthorized, "key",
               "this key is no longer listed in the server's clients.yaml");
        return;
    }
    burst_ops_ += m->ops()->size();
    RetryKey key;
    const bool changes = Service::changes_state(*m);
    if (m->request_id() != 0 && changes) {
        key = retry_key(*m, sender, cache_for(sender));
        if (answered_as_retry(f, *m, received_ns, key)) return;
    }
    counters_.in_flight.fetch_add(1, std::memory_order_relaxed);
    const std::string_view connection = f.part[0].to_string_view();
    if (auto it = connection_in_flight_.find(connection); it != connection_in_flight_.end()) {
        ++it->second;
    } else {
        connection_in_flight_.emplace(connection, 1);
    }
    // Changes, and reads that the access audit records, wait for their events (persisted).
    const bool durable = persisted_ && (changes || Service::reads_patient_data(*m));
    if (workers_.empty()) {
        service_.answer(*m, builder_, sender);
        reply(f, 0, zmq::message_t(builder_.GetBufferPointer(), builder_.GetSize()), received_ns,
              key, true, durable);
        return;
    }
    dispatch(f, *m, {received_ns, key, durable, sender});
}

void Front::refuse(Frames& f, std::uint64_t request_id, std::int64_t received_ns, ErrorCode code,
                   std::string_view field, std::string_view why) {
    Service::refuse_message(builder_, request_id, code, field, why);
    reply(f, 0, zmq::message_t(builder_.GetBufferPointer(), builder_.GetSize()), received_ns, {},
          false);
}

// The rate is of operations: a message costs one token per operation it carries (a malformed
// one, one), so batching does not multiply a key's rate. A batch larger than the key's burst
// costs the whole burst: it waits for a full bucket, never for ever.
bool Front::within_limits(Frames& f, const wire::RequestMessage* m, std::int64_t received_ns,
                          std::string_view sender_key, const keys::KeyHolder* sender) {
    const std::uint64_t request_id = m ? m->request_id() : 0;
    if (!sender_key.empty()) {
        // A key no longer listed keeps the default rate until its connection goes.
        const double rate = sender ? sender->rate : keys::rate_default;
        const double burst = sender ? sender->burst : keys::burst_default;
        auto at = buckets_.find(sender_key);
        if (at == buckets_.end()) at = buckets_.emplace(std::string(sender_key), Bucket{}).first;
        Bucket& b = at->second;
        const auto now = Clock::now();
        if (b.at == Clock::time_point{}) {
            b.tokens = burst;
        } else {
            const double refill = std::chrono::duration<double>(now - b.at).count() * rate;
            b.tokens = std::min(burst, b.tokens + refill);
        }
        b.at = now;
        // Every operation costs a token (a malformed message one). A batch larger than the
        // burst is let in from a full bucket and leaves it in debt for the rest, so batching
        // never multiplies the rate.
        const double cost = m != nullptr ? std::max<double>(1, m->ops()->size()) : 1;
        if (b.tokens < std::min(cost, burst)) {
            counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
            refuse(f, request_id, received_ns, ErrorCode::overloaded, "",
                   "this key is over its rate of operations (clients.yaml: rate, burst); nothing "
                   "was changed; retry later");
            return false;
        }
        b.tokens -= cost;
    }
    const auto it = connection_in_flight_.find(f.part[0].to_string_view());
    if (it != connection_in_flight_.end() && it->second >= options_.in_flight_per_connection_max) {
        counters_.in_flight_limited.fetch_add(1, std::memory_order_relaxed);
        refuse(f, request_id, received_ns, ErrorCode::overloaded, "",
               "this connection has " + std::to_string(it->second) +
                   " requests unanswered, the most one connection may; nothing was changed; "
                   "read the replies, then retry");
        return false;
    }
    return true;
}

RetryCache& Front::cache_for(const keys::KeyHolder* sender) {
    if (sender == nullptr) return cache_;
    auto it = key_caches_.find(sender->key);
    if (it == key_caches_.end()) {
        it = key_caches_
                 .try_emplace(sender->key, options_.retry_entries_per_key,
                              options_.retry_bytes_per_key)
                 .first;
    }
    return it->second;
}

void Front::connection_done(const zmq::message_t& routing_id) {
    counters_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    const auto it = connection_in_flight_.find(routing_id.to_string_view());
    SM_ASSERT(it != connection_in_flight_.end() && it->second > 0);
    if (--it->second == 0) connection_in_flight_.erase(it);
}

void Front::reload_keys() {
    if (options_.keys == nullptr) return;
    std::string why;
    if (options_.keys->reload(why)) {
        std::cout << "slotmatchd: reloaded " << options_.keys->path() << ": "
                  << options_.keys->current().holders().size()
                  << " keys; a key no longer listed is refused from now on" << std::endl;
    } else {
        std::cerr << "slotmatchd: " << options_.keys->path()
                  << " was not reloaded; the keys in force stay:\n"
                  << why << std::endl;
    }
}

bool Front::answered_as_retry(Frames& f, const wire::RequestMessage& m, std::int64_t received_ns,
                              RetryKey key) {
    const std::string* stored = nullptr;
    switch (key.cache->see(key.hash, codec::request_digest(m), stored)) {
        case RetryCache::Seen::first:
            return false;
        case RetryCache::Seen::answered:
            counters_.retries_answered.fetch_add(1, std::memory_order_relaxed);
            reply(f, 0, zmq::message_t(stored->data(), stored->size()), received_ns, {}, false);
            return true;
        case RetryCache::Seen::pending:  // the first copy's answer is on its way
            return true;
        case RetryCache::Seen::conflict:
            Service::refuse_message(builder_, m.request_id(), ErrorCode::invalid_request,
                                    "request_id",
                                    "this request id was already used for a different "
                                    "request by this actor and client");
            reply(f, 0, zmq::message_t(builder_.GetBufferPointer(), builder_.GetSize()),
                  received_ns, {}, false);
            return true;
    }
    SM_ASSERT(false && "RetryCache::see answers one of its four cases");
    return true;
}

// To the worker owning the shard of the request's first slot. A worker whose queue is full
// refuses at once (OVERLOADED, nothing changed) instead of stalling this thread, and with it
// every other client and the hold sweep. The first frame is the one that can fail; once it is
// queued the rest of the message follows it.
void Front::dispatch(Frames& f, const wire::RequestMessage& m, const Tag& tag) {
    const std::size_t w = std::hash<std::uint64_t>{}(service_.shard_key(m)) % workers_.size();
    if (!workers_[w].send(encode_tag(tag), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        connection_done(f.part[0]);
        if (tag.key.keyed) tag.key.cache->forget(tag.key.hash);
        Service::refuse_message(builder_, m.request_id(), ErrorCode::overloaded, "",
                                "the server is saturated; nothing was changed; retry later");
        reply(f, 0, zmq::message_t(builder_.GetBufferPointer(), builder_.GetSize()),
              tag.received_ns, {}, false);
        return;
    }
    for (std::size_t i = 0; i + 1 < f.n; ++i) workers_[w].send(f.part[i], zmq::send_flags::sndmore);
    workers_[w].send(f.body(), zmq::send_flags::none);
    ++at_workers_;
    SM_ASSERT(at_workers_ <= at_workers_max);  // burst() reads no more while that many are out
}

void Front::on_worker_reply(Frames& f) {
    const Tag tag = decode_tag(f.part[0]);
    --at_workers_;
    reply(f, 1, std::move(f.body()), tag.received_ns, tag.key, true, tag.durable);
}

void Front::reply(Frames& f, std::size_t first, zmq::message_t&& body, std::int64_t received_ns,
                  RetryKey key, bool answered, bool durable) {
    // Refused whole for want of room (the journal is behind): nothing to wait for, and a
    // retry under the same id should run again once there is room.
    const bool overloaded =
        (durable || key.keyed) &&
        Service::all_overloaded({static_cast<const std::uint8_t*>(body.data()), body.size()});
    if (overloaded && key.keyed && key.cache->forget(key.hash)) key.keyed = false;
    if (durable && !overloaded) {
        // Its events get their sequence numbers at the next drain that empties the rings;
        // until they are committed neither the client nor a retry sees the answer.
        Held& h = held_.emplace_back();
        for (std::size_t i = first; i + 1 < f.n; ++i) {
            h.envelope[h.envelope_frames++] = std::move(f.part[i]);
        }
        h.body = std::move(body);
        h.received_ns = received_ns;
        h.key = key;
        // Its events are among those published so far in each lane (a worker publishes before
        // it replies); once every lane is drained that far, they all have numbers.
        const EventRings& rings = service_.engine().events();
        h.heads.resize(rings.lane_count());
        for (std::size_t l = 0; l < h.heads.size(); ++l) h.heads[l] = rings.published(l);
        return;
    }
    if (key.keyed) key.cache->store(key.hash, body.data(), body.size());
    if (answered) connection_done(f.part[first]);
    if (!send_reply(router_, f, first, std::move(body))) {
        counters_.replies_dropped.fetch_add(1, std::memory_order_relaxed);
    }
    counters_.messages.fetch_add(1, std::memory_order_relaxed);
    counters_.latency.record_ns(static_cast<std::uint64_t>(now_ns() - received_ns));
}

std::size_t Front::drain_events() {
    std::size_t total = 0;
    for (;;) {
        // With a journal, no more than it has room for: the rest stays in the engine's rings,
        // which then fill and refuse new changes (OVERLOADED) until the journal catches up.
        const std::size_t want =
            journal_ ? std::min(events_.size(), journal_->room()) : events_.size();
        if (want == 0) {
            lanes_empty_ = false;
            break;
        }
        const std::size_t n = service_.engine().events().drain({events_.data(), want});
        total += n;
        std::uint64_t accesses = 0;
        for (std::size_t i = 0; i < n; ++i) accesses += events_[i].kind == EventKind::accessed;
        if (accesses) counters_.accesses_recorded.fetch_add(accesses, std::memory_order_relaxed);
        if (n > 0) drained_through_ = events_[n - 1].seq;
        if (journal_) journal_->submit({events_.data(), n});
        if (n < want) {
            lanes_empty_ = true;
            break;
        }
    }
    counters_.events_published.fetch_add(total, std::memory_order_relaxed);
    // A held reply whose events have all been drained waits for the highest number drained so
    // far (a message without events waits for the same). Held replies are in order and their
    // lane counts only grow, so the first one still waiting ends the walk.
    const EventRings& rings = service_.engine().events();
    for (Held& h : held_) {
        if (h.seq != Held::unassigned) continue;
        bool drained = true;
        for (std::size_t l = 0; l < h.heads.size() && drained; ++l) {
            drained = rings.drained(l) >= h.heads[l];
        }
        if (!drained) break;
        h.seq = drained_through_;
    }
    release_durable();
    return total;
}

void Front::release_durable() {
    if (journal_ == nullptr) return;
    counters_.events_committed.store(journal_->committed(), std::memory_order_relaxed);
    const std::uint64_t failed = journal_->failed_commits();
    if (failed != counters_.journal_failed_commits.load(std::memory_order_relaxed) &&
        Clock::now() - last_journal_report_ > std::chrono::seconds(5)) {
        // At most every 5 s, so a long outage does not flood the log.
        last_journal_report_ = Clock::now();
        std::cerr << "slotmatchd: journal: " << journal_->error() << " (failures so far: " << failed
                  << ")" << std::endl;
    }
    counters_.journal_failed_commits.store(failed, std::memory_order_relaxed);
    const std::uint64_t committed = journal_->committed();
    while (!held_.empty() && held_.front().seq != Held::unassigned &&
           held_.front().seq <= committed) {
        send_now(held_.front());
        held_.pop_front();
    }
}

void Front::send_now(Held& h) {
    if (h.key.keyed) h.key.cache->store(h.key.hash, h.body.data(), h.body.size());
    connection_done(h.envelope[0]);
    Frames f;
    for (std::size_t i = 0; i < h.envelope_frames; ++i) f.part[i] = std::move(h.envelope[i]);
    f.n = h.envelope_frames + 1;
    if (!send_reply(router_, f, 0, std::move(h.body))) {
        counters_.replies_dropped.fetch_add(1, std::memory_order_relaxed);
    }
    counters_.messages.fetch_add(1, std::memory_order_relaxed);
    counters_.latency.record_ns(static_cast<std::uint64_t>(now_ns() - h.received_ns));
}

void Front::sweep_holds() {
    counters_.holds_expired.fetch_add(service_.engine().expire_holds(), std::memory_order_relaxed);
    service_.engine().end_past_blocks();
}

void Front::start_workers() {
    if (options_.threads <= 1) return;
    // SIGINT, SIGTERM and SIGHUP are for the front thread (its poll returns EINTR and it stops
    // the workers, or reloads the keys); a worker interrupted in its blocking poll would end
    // the process instead.
    sigset_t stop_signals, before;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &before);
    for (unsigned i = 0; i < options_.threads; ++i) {
        const std::string endpoint = "inproc://slotmatchd-worker-" + std::to_string(i);
        workers_.emplace_back(ctx_, zmq::socket_type::pair);
        workers_.back().set(zmq::sockopt::sndhwm, 2 * worker_queue_messages_max);
        workers_.back().set(zmq::sockopt::rcvhwm, 2 * worker_queue_messages_max);
        workers_.back().bind(endpoint);
        worker_threads_.emplace_back(worker_main, std::ref(ctx_), endpoint, std::ref(service_),
                                     options_.keys, std::cref(abandon_workers_));
    }
    // Each worker says it is connected (an empty message); only then is a request dispatched,
    // so the first ones of a busy machine are not refused as OVERLOADED by a pair with no peer.
    for (auto& w : workers_) {
        zmq::message_t ready;
        const auto got = w.recv(ready, zmq::recv_flags::none);
        SM_ASSERT(got && ready.size() == 0);
    }
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

// Finish what the workers hold, then tell them to stop.
void Front::stop_workers() {
    const auto deadline = Clock::now() + shutdown_wait;
    Frames f;
    while (at_workers_ > 0 && Clock::now() < deadline) {
        for (auto& w : workers_) {
            while (receive(w, f, frames_max + 1)) on_worker_reply(f);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Out of time: the workers drop what they still hold (its clients get no reply), take the
    // stop frame, and end. The front never blocks on them: a full queue is retried.
    abandon_workers_.store(true, std::memory_order_relaxed);
    for (auto& w : workers_) {
        while (!w.send(zmq::message_t(), zmq::send_flags::dontwait)) {
            while (receive(w, f, frames_max + 1)) on_worker_reply(f);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    for (auto& t : worker_threads_) t.join();
    workers_.clear();
}

}  // namespace

int serve(Service& service, ServerCounters& counters, const ServerOptions& options,
          JournalConfig journal, const std::atomic<bool>& stop,
          const std::function<void(const std::string&)>& on_listening, const Startup& startup) {
    zmq::context_t ctx(1);
    counters.threads = options.threads;
    int rc = 0;
    {
        Front front(service, counters, options, ctx, std::move(journal));
        rc = front.run(stop, on_listening, startup);
    }
    ctx.close();
    return rc;
}

}  // namespace slotmatch::tools
