// Who gets in: CurveZMQ on a listening socket, and the ZAP handler (ZeroMQ RFC 27) that admits
// only the keys of the registry in force. Fail closed: the socket enforces its ZAP domain, so a
// handshake is refused when the handler does not answer (libzmq would otherwise let any client
// in while no handler is bound), and a key is admitted only while the registry lists it for a
// channel this socket serves. A refused client gets no reply at all: its handshake fails.
//
// The gate's thread answers ZAP requests and watches the socket's handshake events (a socket
// monitor), so every failed handshake is counted: a key not listed, a client without CurveZMQ,
// a peer that breaks the protocol mid-handshake. (Bytes that are not ZMTP at all end before any
// handshake: libzmq closes that connection and reports no handshake for it.) It reports them on
// stderr at most once per report interval.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "key_files.hpp"
#include "key_registry.hpp"

namespace slotmatch::keys {

// The ZAP domain of every slotmatch socket (the socket enforces it: no handler, no entry).
inline constexpr const char* zap_domain = "slotmatch";
inline constexpr auto gate_report_interval = std::chrono::seconds(10);

struct GateCounters {
    std::atomic<std::uint64_t> handshakes_failed{0};     // every kind, from the socket monitor
    std::atomic<std::uint64_t> handshakes_succeeded{0};  // from the socket monitor
    std::atomic<std::uint64_t> keys_refused{0};          // the ZAP handler's refusals among them
};

class Gate {
  public:
    // Makes `guarded` (not yet bound) a CurveZMQ server with `server`'s pair, enforcing the ZAP
    // domain, and starts the handler for its context, which admits the keys `ring` lists for
    // one of `admitted`. `program` prefixes what it reports. Throws zmq::error_t when libzmq
    // refuses an option (a libzmq without CurveZMQ or without ZAP enforcement): the program
    // then refuses to serve rather than serve open.
    Gate(zmq::context_t& ctx, zmq::socket_t& guarded, const KeyPair& server, const KeyRing& ring,
         std::vector<KeyChannel> admitted, std::string program, GateCounters& counters);
    ~Gate();
    Gate(const Gate&) = delete;
    Gate& operator=(const Gate&) = delete;

  private:
    void run(zmq::socket_t zap, zmq::socket_t monitor);
    void answer(zmq::socket_t& zap);
    void on_event(zmq::socket_t& monitor);
    void report(bool force);

    const KeyRing& ring_;
    std::vector<KeyChannel> admitted_;
    std::string program_;
    GateCounters& counters_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    // The gate thread's: what happened since the last report.
    std::uint64_t failed_since_ = 0;
    std::uint64_t refused_since_ = 0;
    std::string last_refusal_;
    std::chrono::steady_clock::time_point last_report_{};
};

// Makes `socket` (not yet connected) a CurveZMQ client with `mine`, for a server whose public
// key is `server_public` (Z85).
void make_curve_client(zmq::socket_t& socket, const KeyPair& mine,
                       const std::string& server_public);

// The key a message arrived under: the User-Id the ZAP handler gave its connection (the
// client's public key, Z85); empty without CurveZMQ.
std::string_view sender_key(const zmq::message_t& m);

}  // namespace slotmatch::keys
