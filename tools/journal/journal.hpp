// The embedded journal (`slotmatchd --store sqlite:PATH`): a thread that commits the engine's
// events to the SQLite event store in batches (group commit: whatever has queued up while the
// previous transaction was syncing goes into the next one), and tells the server's front
// thread how far it has committed, so that replies in `persisted` mode leave only after their
// events are durable.
//
// The queue between the front thread and the journal thread is bounded
// (`capacity` events, --journal-buffer-events); when it is full the front thread stops draining the
// engine's event rings, the rings fill, and state-changing operations are refused with OVERLOADED
// while reads go on (back-pressure, nothing lost). A failed commit (a full disk, say) is retried
// after a pause, and reported in the meantime.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <slotmatch/clock.hpp>
#include <span>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "event_store.hpp"

namespace slotmatch::journal {

inline constexpr std::size_t pending_events_default = std::size_t{1}
                                                      << 16;  // --journal-buffer-events
inline constexpr std::size_t pending_events_min = 1024;
inline constexpr std::size_t link_batch_events_max = 4096;  // one EventBatch on the link
inline constexpr int retry_pause_ms = 200;

// Where the server's events go: the embedded journal (--store) or a slotmatch-journal
// process (--journal). The front thread submits drained events and reads how far they are
// committed; a thread of the journal's own does the rest and wakes the front thread through
// an inproc PUSH to `wake_endpoint` after progress.
class Journal {
  public:
    virtual ~Journal() = default;
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    // Room for this many more events (queued and unacknowledged ones count).
    std::size_t room() const;
    // Queues events (ascending sequence numbers, at most room()).
    void submit(std::span<const Event> events);
    // The highest sequence number durable in the store.
    std::uint64_t committed() const { return committed_.load(std::memory_order_acquire); }
    // The last error (a failed commit, an unreachable journal), empty while all is well.
    std::string error() const;
    std::uint64_t failed_commits() const { return failed_.load(std::memory_order_relaxed); }
    // The first sequence number the engine must give (the store continues from its last).
    std::uint64_t next_seq() const { return first_seq_; }
    // Delivers what is queued (bounded attempts), then ends the thread. Idempotent.
    virtual void stop() = 0;

  protected:
    // `committed`: what the store already holds; the journal thread PUSHes a byte to
    // `wake_endpoint` after progress (wake()).
    Journal(zmq::context_t& ctx, const std::string& wake_endpoint, std::uint64_t committed,
            std::size_t capacity);
    // Tells the journal thread that submit() queued events.
    virtual void submitted() = 0;
    // The journal thread: `through` is committed now; wakes the front thread.
    void advance(std::uint64_t through);

    std::size_t capacity_;
    zmq::socket_t wake_;
    std::uint64_t first_seq_;
    mutable std::mutex mutex_;
    std::deque<Event> queue_;  // under mutex_: submitted and not yet committed
    std::string error_;        // under mutex_
    std::atomic<std::uint64_t> committed_;
    std::atomic<std::uint64_t> failed_{0};
    std::thread thread_;
};

// The journal thread also purges the web booking log (R20), between batches, by `clock` (the
// engine's, so `--clock fixed:` and `admin clock --set` drive it; LogPurgeSchedule says when).
class EmbeddedJournal final : public Journal {
  public:
    EmbeddedJournal(std::unique_ptr<EventStore> store, zmq::context_t& ctx,
                    const std::string& wake_endpoint, std::size_t capacity, const Clock& clock);
    ~EmbeddedJournal() override { stop(); }
    void stop() override;

  private:
    void submitted() override { ready_.notify_one(); }
    void run();

    std::unique_ptr<EventStore> store_;
    const Clock& clock_;
    LogPurgeSchedule purge_;  // the journal thread's
    std::condition_variable ready_;
    bool stopping_ = false;  // under mutex_
};

// slotmatchd's side of a slotmatch-journal process (DEALER to its ROUTER, never PUB): events
// go out in batches; the journal acknowledges the highest committed sequence number; events
// stay in a bounded buffer until acknowledged, and everything unacknowledged is sent again
// when no acknowledgement has come for resend_after_ms (the journal restarted, the link
// dropped) or the journal reports a gap. The journal skips what it already has.
inline constexpr int resend_after_ms = 1000;
inline constexpr int link_batches_in_flight_max = 16;  // DEALER send high-water mark
inline constexpr int hello_timeout_ms = 5000;

// Recovery through a slotmatch-journal: every stored event from 1 on, in order, asked for in
// batches of codec::replay_batch_events over a DEALER of its own. False, with the reason in `why`,
// when the journal does not answer within hello_timeout_ms or cannot read its store.
bool scan_remote(zmq::context_t& ctx, const std::string& endpoint,
                 const std::function<bool(const Event&)>& visit, std::string& why,
                 std::uint64_t from = 1);

class RemoteJournal final : public Journal {
  public:
    // Connects and asks the journal for its committed sequence number; nothing, with the
    // reason in `why`, when it does not answer within hello_timeout_ms.
    // `recovered`: the events the engine recovered from this journal; the journal takes this
    // server as its producer only if that is what it holds (else another server wrote since).
    static std::unique_ptr<RemoteJournal> connect(zmq::context_t& ctx, const std::string& endpoint,
                                                  const std::string& wake_endpoint,
                                                  std::size_t capacity, std::uint64_t recovered,
                                                  std::string& why);
    ~RemoteJournal() override { stop(); }
    void stop() override;

  private:
    RemoteJournal(zmq::context_t& ctx, std::uint64_t committed, const std::string& wake_endpoint,
                  std::size_t capacity);
    void submitted() override;
    void run(zmq::socket_t socket, zmq::socket_t poked);
    static constexpr int poll_ms = 50;     // resend and stop checks between pokes and acks
    bool on_ack(const zmq::message_t& m);  // true on progress
    bool send_new(zmq::socket_t& socket, flatbuffers::FlatBufferBuilder& b);
    // After the journal restarted (it asks for a hello first): checks that every event it
    // committed beyond our acknowledged number is ours, then says hello again. A journal that
    // holds another producer's events there means this server was fenced: it stops for good.
    void hello_again();

    zmq::context_t& ctx_;
    std::string endpoint_;
    std::uint64_t producer_ = 0;      // this run's id on the link (EventBatch.producer)
    bool hello_wanted_ = false;       // the journal thread's: the journal asked for a hello
    bool fenced_ = false;             // the journal thread's: another producer has the journal
    std::uint64_t sent_through_ = 0;  // the journal thread's: the last event sent
    std::chrono::steady_clock::time_point resume_at_{};  // the journal thread's
    zmq::socket_t poke_;  // used by the front thread only (submitted)
    std::atomic<bool> stopping_{false};
};

}  // namespace slotmatch::journal
