// The persistence sidecar's serving loop (slotmatch-journal; slotmatchd's side is
// sidecar_link.hpp). A ROUTER takes event batches from slotmatchd (FlatBuffers EventBatch),
// commits every batch that has arrived in one transaction (group commit), and answers each
// with the highest committed sequence number (JournalAck). Events it already has are skipped
// (a resend after a lost acknowledgement or a restart); a batch that would leave a gap is
// refused whole and reported loudly, and the sender resends from the number the journal
// expected. A restarting slotmatchd reads the stored events back through the same socket
// (replay requests) to rebuild its state.
//
// Fencing: events are taken from one producer, the slotmatchd run whose hello came last, and
// only if that run has seen every stored event; the others are refused, so two servers never
// number events over each other.
//
// With queries (the region slotmatchd serves) the same ROUTER answers staff's web booking log
// and access audit (RequestMessage). Each message kind carries its own file identifier; a
// message with the older shared one ("SMW1") is a query if it verifies as one, else a batch.
// The log is purged (R20) by the later of the wall clock and the newest committed event's time:
// the sidecar has no engine clock, and a slotmatchd on a fixed clock moves the events' times.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "event_store.hpp"
#include "gate.hpp"
#include "snapshot.hpp"
#include "store_queries.hpp"

namespace slotmatch::journal {

class Sidecar {
  public:
    // `queries`: null when started without the region (queries are then refused). `keys`: the
    // registry of the journal's --keys (null without): event batches are taken only from its
    // engine keys, and a query acts as its key (keys::actor_of).
    // `shelf`: where the store's snapshots are (null: none are offered to a recovering server).
    Sidecar(EventStore& store, StoreQueries* queries, const keys::KeyRing* keys = nullptr,
            const SnapshotShelf* shelf = nullptr)
        : store_(store), queries_(queries), keys_(keys), shelf_(shelf) {}

    // Serves `router` until `stop` becomes true: group commits, replays, queries, and the purge.
    // `between`: called between polls (the program's SIGHUP reload).
    void run(zmq::socket_t& router, const std::atomic<bool>& stop,
             const std::function<void()>& between = {});

    // The sidecar's "now" for the log's 31 days (R20).
    static Instant now(const EventStore& store);
    std::uint64_t batches() const { return batches_; }
    std::uint64_t commits() const { return commits_; }

  private:
    // One group: every message waiting (up to commit_events_max events) is taken, the events
    // that continue the log are committed in one transaction, and then each batch is
    // acknowledged and each replay answered. Returns the messages served (0: none waited).
    std::size_t serve_available(zmq::socket_t& router);
    // An event batch waiting for the group's commit, and whom to acknowledge.
    struct Pending {
        zmq::message_t identity;
        std::uint64_t first = 0;  // 0: a hello (no events)
        std::uint64_t last = 0;
        std::string refusal;  // set: refused before the commit (malformed, fenced)
        bool fenced = false;  // refused: another producer has the journal
    };
    // What one group has taken so far.
    struct Group {
        std::vector<Pending> pending;
        std::vector<Event> events;
        ConfigArena configs;  // the settings changes among the events, until they are stored
        std::vector<std::pair<zmq::message_t, std::uint64_t>> replays;  // after the commit
        std::vector<zmq::message_t> snapshot_asks;  // answered after the commit too
    };
    // Sorts one message into the group (a query is answered at once).
    void take(zmq::socket_t& router, zmq::message_t identity, const zmq::message_t& body,
              Group& group);
    Pending take_batch(zmq::message_t identity, const wire::EventBatch* batch,
                       std::vector<Event>& events, ConfigArena& configs);
    // A hello from `batch`'s producer: takes the journal over, or is refused (in `p`).
    void hello(const wire::EventBatch& batch, Pending& p);
    // Commits the events that continue the log; their result (ok when there were none).
    AppendResult commit(std::vector<Event>& events);
    void acknowledge(zmq::socket_t& router, Pending& p, const AppendResult& committed,
                     std::uint64_t through);

    EventStore& store_;
    StoreQueries* queries_;
    const keys::KeyRing* keys_;
    const SnapshotShelf* shelf_;
    std::uint64_t producer_ = 0;  // the slotmatchd run whose events are taken
    std::uint64_t batches_ = 0;
    std::uint64_t commits_ = 0;
};

}  // namespace slotmatch::journal
