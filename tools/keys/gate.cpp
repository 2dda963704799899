#include "gate.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iostream>

namespace slotmatch::keys {

namespace {

// A draft option of libzmq 4.3 (Debian builds the library with it); named here so that the
// rest of the build need not enable ZeroMQ's draft API.
constexpr int zap_enforce_domain_option = 93;

constexpr int monitored_events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;

std::atomic<unsigned> gates_made{0};  // one monitor endpoint per gate

void set_raw(zmq::socket_t& s, int option, const void* value, std::size_t size) {
    if (zmq_setsockopt(s.handle(), option, value, size) != 0) throw zmq::error_t();
}

void set_key(zmq::socket_t& s, int option, std::string_view text) {
    const KeyBytes bytes = key_bytes_of(text);
    set_raw(s, option, bytes.data(), bytes.size());
}

std::string text_of(const zmq::message_t& m) {
    return std::string(static_cast<const char*>(m.data()), m.size());
}

}  // namespace

Gate::Gate(zmq::context_t& ctx, zmq::socket_t& guarded, const KeyPair& server, const KeyRing& ring,
           std::vector<KeyChannel> admitted, std::string program, GateCounters& counters)
    : ring_(ring),
      admitted_(std::move(admitted)),
      program_(std::move(program)),
      counters_(counters) {
    // The handler first: from the moment the socket is a CURVE server, a handshake asks it.
    zmq::socket_t zap(ctx, zmq::socket_type::rep);
    zap.set(zmq::sockopt::linger, 0);
    zap.bind("inproc://zeromq.zap.01");
    guarded.set(zmq::sockopt::curve_server, 1);
    set_key(guarded, ZMQ_CURVE_SECRETKEY, server.secret_text);
    guarded.set(zmq::sockopt::zap_domain, zap_domain);
    const int on = 1;
    set_raw(guarded, zap_enforce_domain_option, &on, sizeof on);
    const std::string monitor_endpoint =
        "inproc://slotmatch-gate-monitor-" + std::to_string(gates_made.fetch_add(1));
    if (zmq_socket_monitor(guarded.handle(), monitor_endpoint.c_str(), monitored_events) != 0) {
        throw zmq::error_t();
    }
    zmq::socket_t monitor(ctx, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_endpoint);
    last_report_ = std::chrono::steady_clock::now() - gate_report_interval;
    thread_ = std::thread([this, z = std::move(zap), m = std::move(monitor)]() mutable {
        run(std::move(z), std::move(m));
    });
}

Gate::~Gate() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
}

void Gate::run(zmq::socket_t zap, zmq::socket_t monitor) {
    while (!stop_.load(std::memory_order_relaxed)) {
        zmq::pollitem_t items[] = {{zap.handle(), 0, ZMQ_POLLIN, 0},
                                   {monitor.handle(), 0, ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, 2, std::chrono::milliseconds(100));
            if (items[0].revents & ZMQ_POLLIN) answer(zap);
            if (items[1].revents & ZMQ_POLLIN) on_event(monitor);
        } catch (const zmq::error_t& e) {
            if (e.num() == ETERM) break;
            if (e.num() != EINTR) throw;
        }
        report(false);
    }
    report(true);
}

// One ZAP request: version, request id, domain, address, routing id, mechanism, credentials.
void Gate::answer(zmq::socket_t& zap) {
    std::vector<zmq::message_t> frames;
    for (;;) {
        zmq::message_t m;
        if (!zap.recv(m, zmq::recv_flags::dontwait)) return;
        const bool more = m.more();
        frames.push_back(std::move(m));
        if (!more) break;
    }
    std::string status = "400", text = "not a key of this server", user;
    if (frames.size() < 6) {
        text = "malformed ZAP request";
        status = "500";
    } else if (text_of(frames[5]) != "CURVE" || frames.size() < 7 ||
               frames[6].size() != key_bytes) {
        text = "CurveZMQ only";
    } else {
        const std::string key = key_text_of(static_cast<const std::uint8_t*>(frames[6].data()));
        const KeyHolder* h = ring_.current().find(key);
        if (h != nullptr &&
            std::find(admitted_.begin(), admitted_.end(), h->channel) != admitted_.end()) {
            status = "200";
            text = "OK";
            user = key;
        } else {
            text = h ? "this key's channel is not served here" : "this key is not listed";
            counters_.keys_refused.fetch_add(1, std::memory_order_relaxed);
            ++refused_since_;
            last_refusal_ = text + " (" + key.substr(0, 8) + "... from " + text_of(frames[3]) + ")";
        }
    }
    const std::string version = frames.empty() ? "1.0" : text_of(frames[0]);
    zap.send(zmq::buffer(version), zmq::send_flags::sndmore);
    if (frames.size() > 1) {
        zap.send(frames[1], zmq::send_flags::sndmore);
    } else {
        zap.send(zmq::message_t(), zmq::send_flags::sndmore);
    }
    zap.send(zmq::buffer(status), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(text), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(user), zmq::send_flags::sndmore);
    zap.send(zmq::message_t(), zmq::send_flags::none);  // no metadata
}

// A monitor event: [event (2 bytes), value (4 bytes)][endpoint].
void Gate::on_event(zmq::socket_t& monitor) {
    for (;;) {
        zmq::message_t head, endpoint;
        if (!monitor.recv(head, zmq::recv_flags::dontwait)) return;
        if (head.more()) (void)monitor.recv(endpoint, zmq::recv_flags::none);
        if (head.size() < 2) continue;
        std::uint16_t event = 0;
        std::memcpy(&event, head.data(), sizeof event);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            counters_.handshakes_succeeded.fetch_add(1, std::memory_order_relaxed);
        } else {
            counters_.handshakes_failed.fetch_add(1, std::memory_order_relaxed);
            ++failed_since_;
        }
    }
}

void Gate::report(bool force) {
    if (failed_since_ == 0 && refused_since_ == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_report_ < gate_report_interval) return;
    std::cerr << program_ << ": " << failed_since_
              << " failed CurveZMQ handshake(s) since the last "
              << "report";
    if (refused_since_ > 0) {
        std::cerr << ", " << refused_since_ << " of them with a key clients.yaml does not admit; "
                  << "last: " << last_refusal_;
    }
    std::cerr << " (reported at most every "
              << std::chrono::duration_cast<std::chrono::seconds>(gate_report_interval).count()
              << " s)" << std::endl;
    failed_since_ = 0;
    refused_since_ = 0;
    last_report_ = now;
}

void make_curve_client(zmq::socket_t& socket, const KeyPair& mine,
                       const std::string& server_public) {
    set_key(socket, ZMQ_CURVE_SERVERKEY, server_public);
    set_key(socket, ZMQ_CURVE_PUBLICKEY, mine.public_text);
    set_key(socket, ZMQ_CURVE_SECRETKEY, mine.secret_text);
}

std::string_view sender_key(const zmq::message_t& m) {
    const char* user = zmq_msg_gets(m.handle(), "User-Id");
    return user ? std::string_view(user) : std::string_view();
}

}  // namespace slotmatch::keys
