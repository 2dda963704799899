// The embedded journal (`slotmatchd --store sqlite:PATH`): a thread that commits the engine's
// events to the SQLite event store in batches (group commit: whatever has queued up while the
// previous transaction was syncing goes into the next one), and tells the server's front
// thread how far it has committed, so that replies in `persisted` mode leave only after their
// events are durable.
//
// The queue between the front thread and the journal thread is bounded
// (pending_events_max); when it is full the front thread stops draining the engine's event
// rings, the rings fill, and state-changing operations are refused with OVERLOADED while
// reads go on (back-pressure, nothing lost). A failed commit (a full disk, say) is retried
// after a pause, and reported in the meantime.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "event_store.hpp"

namespace slotmatch::journal {

inline constexpr std::size_t pending_events_max = std::size_t{1} << 16;
inline constexpr std::size_t commit_events_max = 4096;  // one transaction at most
inline constexpr int retry_pause_ms = 200;

class EmbeddedJournal {
  public:
    // `wake_endpoint`: an inproc address the journal thread PUSHes a byte to after each commit,
    // so the front thread's poll wakes up (it binds the PULL side).
    EmbeddedJournal(std::unique_ptr<SqliteStore> store, zmq::context_t& ctx,
                    std::string wake_endpoint);
    ~EmbeddedJournal() { stop(); }
    // Commits what is queued (a few attempts at most), then ends the thread. Idempotent.
    void stop();
    EmbeddedJournal(const EmbeddedJournal&) = delete;
    EmbeddedJournal& operator=(const EmbeddedJournal&) = delete;

    // Room for this many more events in the queue.
    std::size_t room() const;
    // Queues events (ascending sequence numbers, at most room()).
    void submit(std::span<const Event> events);
    // The highest sequence number durable in the store.
    std::uint64_t committed() const { return committed_.load(std::memory_order_acquire); }
    // The last commit error, empty while commits succeed.
    std::string error() const;
    std::uint64_t failed_commits() const { return failed_.load(std::memory_order_relaxed); }
    // The first sequence number the engine must give (the store continues from its last).
    std::uint64_t next_seq() const { return first_seq_; }

  private:
    void run();

    std::unique_ptr<SqliteStore> store_;
    zmq::socket_t wake_;
    std::uint64_t first_seq_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Event> pending_;  // under mutex_
    std::string error_;          // under mutex_
    bool stopping_ = false;      // under mutex_
    std::atomic<std::uint64_t> committed_;
    std::atomic<std::uint64_t> failed_{0};
    std::thread thread_;
};

}  // namespace slotmatch::journal
