#include "journal.hpp"

#include <slotmatch/assert.hpp>
#include <vector>

namespace slotmatch::journal {

Journal::Journal(zmq::context_t& ctx, const std::string& wake_endpoint, std::uint64_t committed,
                 std::size_t capacity)
    : capacity_(capacity),
      wake_(ctx, zmq::socket_type::push),
      first_seq_(committed + 1),
      queue_(capacity),
      submitted_through_(committed),
      committed_(committed) {
    wake_.set(zmq::sockopt::sndhwm, 1);  // one pending wake-up says enough
    wake_.set(zmq::sockopt::linger, 0);
    wake_.connect(wake_endpoint);
}

std::size_t Journal::room() const {
    std::lock_guard lock(mutex_);
    return capacity_ - std::min(capacity_, queue_.size());
}

void Journal::submit(std::span<const Event> events) {
    if (events.empty()) return;
    {
        std::lock_guard lock(mutex_);
        // The front thread asked room() first: the buffer's bound holds.
        SM_ASSERT(queue_.size() + events.size() <= capacity_);
        // The front thread drains the engine's events in sequence order, without a gap.
        SM_ASSERT(events.front().seq == submitted_through_ + 1);
        SM_ASSERT(events.back().seq == submitted_through_ + events.size());
        submitted_through_ = events.back().seq;
        for (const Event& e : events) queue_.push_back(e);  // in place: never past capacity_
    }
    submitted();
}

std::string Journal::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

void Journal::advance(std::uint64_t through) {
    if (through > committed_.load(std::memory_order_relaxed)) {
        committed_.store(through, std::memory_order_release);
    }
    (void)wake_.send(zmq::message_t(1), zmq::send_flags::dontwait);
}

EmbeddedJournal::EmbeddedJournal(std::unique_ptr<EventStore> store, zmq::context_t& ctx,
                                 const std::string& wake_endpoint, std::size_t capacity,
                                 const Clock& clock)
    : Journal(ctx, wake_endpoint, store->last_seq(), capacity),
      store_(std::move(store)),
      clock_(clock) {
    thread_ = std::thread([this] { run(); });
}

void EmbeddedJournal::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
}

// Takes what has queued (up to commit_events_max) and commits it in one transaction; on
// failure the same events stay at the head of the queue and are tried again after a pause.
// Stopping commits what is queued first (within a few failed attempts).
void EmbeddedJournal::run() {
    std::span<const Event> batch;  // the queue's head, in place: the front thread only adds
    int failures_while_stopping = 0;
    for (;;) {
        purge_if_due(*store_, purge_, clock_.now(), "slotmatchd: journal");
        {
            std::unique_lock lock(mutex_);
            // Woken by events, a stop, or the next look at the purge schedule.
            if (!ready_.wait_for(lock, std::chrono::milliseconds(LogPurgeSchedule::purge_check_ms),
                                 [&] { return stopping_ || !queue_.empty(); })) {
                continue;
            }
            if (queue_.empty() || failures_while_stopping > 1) return;
            // The head's contiguous part (up to the ring's end; the rest comes next time).
            const auto head = queue_.array_one();
            batch = {head.first, std::min(head.second, commit_events_max)};
        }
        const AppendResult r = store_->append(batch);
        {
            std::lock_guard lock(mutex_);
            // This thread alone takes from the queue, so the batch is still at its head.
            SM_ASSERT(queue_.size() >= batch.size() && queue_.front().seq == batch.front().seq);
            if (r.ok) {
                queue_.erase_begin(batch.size());
                error_.clear();
            } else {
                error_ = r.error;
                if (stopping_) ++failures_while_stopping;
            }
        }
        if (r.ok) {
            advance(r.committed_through);
        } else {
            failed_.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(std::chrono::milliseconds(retry_pause_ms));
        }
    }
}

}  // namespace slotmatch::journal
