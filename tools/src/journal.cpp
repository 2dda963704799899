#include "journal.hpp"

#include <vector>

namespace slotmatch::journal {

EmbeddedJournal::EmbeddedJournal(std::unique_ptr<SqliteStore> store, zmq::context_t& ctx,
                                 std::string wake_endpoint)
    : store_(std::move(store)),
      wake_(ctx, zmq::socket_type::push),
      first_seq_(store_->last_seq() + 1),
      committed_(store_->last_seq()) {
    wake_.set(zmq::sockopt::sndhwm, 1);  // one pending wake-up says enough
    wake_.set(zmq::sockopt::linger, 0);
    wake_.connect(wake_endpoint);
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

std::size_t EmbeddedJournal::room() const {
    std::lock_guard lock(mutex_);
    return pending_events_max - pending_.size();
}

void EmbeddedJournal::submit(std::span<const Event> events) {
    if (events.empty()) return;
    {
        std::lock_guard lock(mutex_);
        pending_.insert(pending_.end(), events.begin(), events.end());
    }
    ready_.notify_one();
}

std::string EmbeddedJournal::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

// Takes what has queued (up to commit_events_max) and commits it in one transaction; on
// failure the same events stay at the head of the queue and are tried again after a pause.
// Stopping commits what is queued first (within a few failed attempts).
void EmbeddedJournal::run() {
    std::vector<Event> batch;
    batch.reserve(commit_events_max);
    int failures_while_stopping = 0;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
            if (pending_.empty() || failures_while_stopping > 3) return;
            const std::size_t n = std::min(pending_.size(), commit_events_max);
            batch.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        }
        const AppendResult r = store_->append(batch);
        {
            std::lock_guard lock(mutex_);
            if (r.ok) {
                pending_.erase(pending_.begin(),
                               pending_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
                error_.clear();
            } else {
                error_ = r.error;
                if (stopping_) ++failures_while_stopping;
            }
        }
        if (r.ok) {
            committed_.store(r.committed_through, std::memory_order_release);
            (void)wake_.send(zmq::message_t(1), zmq::send_flags::dontwait);
        } else {
            failed_.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(std::chrono::milliseconds(retry_pause_ms));
        }
    }
}

}  // namespace slotmatch::journal
