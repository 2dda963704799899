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
#include <boost/circular_buffer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
// The queue is a ring reserved at start (address space; pages are used as events arrive).
inline constexpr std::size_t pending_events_max = std::size_t{1} << 24;
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
    // Under mutex_: submitted and not yet committed, in a ring of `capacity` events allocated
    // once (a deque allocated a block per event: an Event is 568 bytes). Events stay where they
    // are until taken off the front, so the journal thread commits a span of them in place.
    boost::circular_buffer<Event> queue_;
    std::uint64_t submitted_through_;  // under mutex_: the last event submitted
    std::string error_;                // under mutex_
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

}  // namespace slotmatch::journal
