// Idempotent retries (the ZeroMQ guide's pattern): the reply to a state-changing request is
// kept under its (actor, client, request id), so a client that retries after a lost reply gets
// the first answer instead of a second booking. Bounded in entries and bytes; the oldest
// answers are forgotten first. Used by the server's front thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

namespace slotmatch::tools {

class RetryCache {
  public:
    RetryCache(std::size_t entries_max, std::size_t bytes_max)
        : entries_max_(entries_max), bytes_max_(bytes_max) {}

    enum class Seen {
        first,     // never seen: run it (it is now pending)
        pending,   // the first copy is still being answered
        answered,  // `reply` holds the stored answer
        conflict,  // the same id came with different content
    };

    // Looks `key` up; a first sighting is recorded as pending.
    Seen see(const std::string& key, std::uint64_t content_hash, const std::string*& reply) {
        auto [it, inserted] = entries_.try_emplace(key);
        if (inserted) {
            it->second.content_hash = content_hash;
            order_.push_back(key);
            evict();
            return Seen::first;
        }
        if (it->second.content_hash != content_hash) return Seen::conflict;
        if (!it->second.done) return Seen::pending;
        reply = &it->second.reply;
        return Seen::answered;
    }

    void store(const std::string& key, const void* data, std::size_t size) {
        auto it = entries_.find(key);
        if (it == entries_.end()) return;  // evicted while pending
        it->second.reply.assign(static_cast<const char*>(data), size);
        it->second.done = true;
        bytes_ += size;
        evict();
    }

    // A request that was not run after all (refused as OVERLOADED before it reached the
    // engine): its retry must run it.
    void forget(const std::string& key) {
        auto it = entries_.find(key);
        if (it == entries_.end() || it->second.done) return;
        entries_.erase(it);  // its place in order_ is skipped by evict()
    }

    std::size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        std::uint64_t content_hash = 0;
        bool done = false;
        std::string reply;
    };
    void evict() {
        while (!order_.empty() && (entries_.size() > entries_max_ || bytes_ > bytes_max_)) {
            auto it = entries_.find(order_.front());
            if (it != entries_.end()) {
                bytes_ -= it->second.reply.size();
                entries_.erase(it);
            }
            order_.pop_front();
        }
    }

    std::size_t entries_max_;
    std::size_t bytes_max_;
    std::size_t bytes_ = 0;
    std::unordered_map<std::string, Entry> entries_;
    std::deque<std::string> order_;  // keys, oldest first
};

}  // namespace slotmatch::tools
