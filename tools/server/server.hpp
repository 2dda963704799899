// slotmatchd's ZeroMQ side. The pipeline, one stage per line:
//   admit     with --keys, CurveZMQ: the ZAP handler (keys::Gate) lets in only registered keys
//   receive   ROUTER on --listen; a frame larger than message_bytes_max closes the peer
//   key       with --keys, the message's key (its User-Id) must still be registered (SIGHUP
//             reloads), and within its rate (a token bucket per key); a connection has at most
//             in_flight_per_connection_max requests unanswered; else UNAUTHORIZED / OVERLOADED
//   verify    FlatBuffers Verifier with depth and table bounds; malformed -> an error reply
//   retry     (key or actor, client, request id) seen before, with the same canonical digest
//             -> the stored reply (RetryCache, one per key)
//   route     --threads 1: answered on this thread; N > 1: to the worker owning the shard of
//             the request's first slot (inproc PAIR), so one shard stays on one core
//   match     Service::answer runs the operations on the engine
//   journal   events drained from the engine's rings after every burst, handed to the journal
//             (embedded, or the slotmatch-journal sidecar); in persisted mode a reply to a
//             change waits until its events are committed
//   reply     ROUTER_MANDATORY, non-blocking: a client that does not read loses the reply
//             (counted) instead of stalling everyone; it can retry with the same request id
// Timers on the same thread: the hold-expiry sweep, and the registry reload `reload` asks for.
// SIGINT/SIGTERM stop reading, finish what the workers hold, flush the replies and return.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "gate.hpp"
#include "journal.hpp"
#include "service.hpp"
#include "sidecar_link.hpp"

namespace slotmatch::tools {

struct ServerOptions {
    std::string listen = "tcp://127.0.0.1:5555";
    unsigned threads = 1;
    unsigned hold_sweep_interval_ms = 250;
    // The retry cache: one for everyone without keys; with keys, one per key of this size, so
    // that one client's changes never push another's answers out.
    std::size_t retry_entries_max = std::size_t{1} << 16;
    std::size_t retry_bytes_max = std::size_t{64} << 20;
    std::size_t retry_entries_per_key = std::size_t{1} << 13;
    std::size_t retry_bytes_per_key = std::size_t{8} << 20;
    // Requests of one connection received and not yet answered; beyond it OVERLOADED. As many
    // as the workers hold at most (at_workers_max), so a pipelining client is bounded by this
    // only when replies wait for the journal.
    std::size_t in_flight_per_connection_max = 4096;
    // CurveZMQ (--keys): the registry in force and the server's key pair. Null: no keys, and
    // the request's own actor is taken as it is (loopback only).
    keys::KeyRing* keys = nullptr;
    keys::KeyPair server_key{};
    // Set (by SIGHUP) to reload the registry; the server clears it once it has.
    std::atomic<bool>* reload = nullptr;
    int send_hwm_messages = 100'000;  // per client, before replies are dropped
    int receive_hwm_messages = 100'000;
    int linger_ms = 1000;  // flush time for replies at shutdown
    // With a store: persisted (a reply to a change leaves after its events are committed) or
    // applied (replies leave at once; the journal follows).
    bool persisted = true;
};
inline constexpr unsigned server_threads_max = 32;

// Events per lane of the engine's outbound rings. Answering on the receiving thread, the front
// drains after every burst (at most about 2,048 operations, two events each at most), so 4,096
// suffice, and a small lane (2 MiB of 480-byte events) stays in cache: the batched figure rose
// from 2.0 to 2.5 M operations/s (slotmatch_wire_bench, 5 repetitions each). Workers run
// between the front's drains, so they keep the engine's default.
inline std::size_t event_lane_events(unsigned threads) {
    return threads <= 1 ? 4096 : EngineLimits{}.events_max;
}

// Where events go: the embedded journal's store (--store), a slotmatch-journal process
// (--journal), or neither (memory only).
struct JournalConfig {
    std::unique_ptr<journal::EventStore> store;
    std::string remote;             // the journal's endpoint
    journal::LinkKeys remote_keys;  // the link's CurveZMQ (slotmatchd --key), or none
    std::size_t buffer_events = journal::pending_events_default;  // queued or unacknowledged
};

// What a start changes before it serves (the region file's seed and its changes, as
// administration events): run once the journal is open, before anyone is answered. Its events
// go to the journal like any other; `make_room` drains them when the engine's lanes are full.
// Returns 0, or an exit code after saying why (the server then stops without serving).
using Startup = std::function<int(const std::function<void()>& make_room)>;

// Runs until `stop` becomes true. `on_listening` gets the bound endpoint (a port of 0 or *
// becomes the real one), once `startup` has run and its events are committed. Returns 0; 2
// with a message on stderr when it cannot bind; 1 when the journal cannot be reached, holds
// another number of events than the engine recovered, or does not commit the start's events;
// or what `startup` returned.
int serve(Service& service, ServerCounters& counters, const ServerOptions& options,
          JournalConfig journal, const std::atomic<bool>& stop,
          const std::function<void(const std::string&)>& on_listening, const Startup& startup = {});

}  // namespace slotmatch::tools
