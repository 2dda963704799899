// Idempotent retries (the ZeroMQ guide's pattern): the reply to a state-changing request is
// kept under its (channel, actor, client, request id), so a client that retries after a lost
// reply gets the first answer instead of a second booking. Used by the server's front thread
// only.
//
// Sized once at start-up and allocation-free after warm-up, because every state-changing
// message passes through it: the entries form a FIFO ring (the oldest answer is forgotten
// first, and a stored reply's buffer is reused by the entry that takes its place), and an
// open-addressing index with linear probing and backward-shift deletion finds them. A request
// is known by two 64-bit hashes: of its key and of its content. Two different keys would have
// to agree on the first hash to be confused (then the content hash tells them apart and the
// later one is refused as a conflict), which for 64 bits is negligible.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <slotmatch/assert.hpp>
#include <string>
#include <vector>

namespace slotmatch::tools {

class RetryCache {
  public:
    RetryCache(std::size_t entries_max, std::size_t bytes_max)
        : ring_(std::bit_ceil(std::max<std::size_t>(entries_max, 2))),
          index_(2 * ring_.size(), 0),
          bytes_max_(bytes_max) {}

    enum class Seen {
        first,     // never seen: run it (it is now pending)
        pending,   // the first copy is still being answered
        answered,  // `reply` holds the stored answer
        conflict,  // the same id came with different content
    };

    // Looks `key` up; a first sighting is recorded as pending.
    Seen see(std::uint64_t key, std::uint64_t content_hash, const std::string*& reply) {
        if (const std::size_t* bucket = find(key)) {
            Entry& e = ring_[*bucket - 1];
            if (e.content_hash != content_hash) return Seen::conflict;
            if (!e.done) return Seen::pending;
            reply = &e.reply;
            return Seen::answered;
        }
        if (count_ == ring_.size()) evict_oldest();
        const std::size_t at = (first_ + count_) & (ring_.size() - 1);
        ++count_;
        Entry& e = ring_[at];
        e.key = key;
        e.content_hash = content_hash;
        e.done = false;
        e.reply.clear();  // keeps its capacity for reuse
        insert(key, at + 1);
        return Seen::first;
    }

    void store(std::uint64_t key, const void* data, std::size_t size) {
        const std::size_t* bucket = find(key);
        if (bucket == nullptr) return;  // evicted while pending
        Entry& e = ring_[*bucket - 1];
        if (e.done) return;  // evicted while pending and seen again: the first answer stays
        e.reply.clear();     // then append: assign() meets g++ 12's false -Wrestrict at -O3
        e.reply.append(static_cast<const char*>(data), size);
        e.done = true;
        bytes_ += size;
        // Answered entries go first by bytes; a request still being answered holds no bytes and
        // is not evicted for them (its retry would run it twice).
        while (bytes_ > bytes_max_ && count_ > 1 && ring_[first_].done) evict_oldest();
    }

    // A request that was not run after all (refused as OVERLOADED before it reached the
    // engine): its retry must run it. Only the newest pending entry can be forgotten (it is
    // the one just seen), which keeps the ring a FIFO. False when it stays (then its answer
    // must be stored, or a retry would wait for it for good).
    bool forget(std::uint64_t key) {
        const std::size_t* bucket = find(key);
        if (bucket == nullptr) return true;
        const std::size_t at = *bucket - 1;
        if (ring_[at].done || at != ((first_ + count_ - 1) & (ring_.size() - 1))) return false;
        erase(key);
        --count_;
        return true;
    }

    std::size_t size() const { return count_; }
    // Bytes held in reply buffers, kept or live (what bounds the cache's memory).
    std::size_t capacity_bytes() const {
        std::size_t n = 0;
        for (const Entry& e : ring_) n += e.reply.capacity();
        return n;
    }

    static constexpr std::size_t reply_reuse_bytes_max = 1024;

  private:
    struct Entry {
        std::uint64_t key = 0;
        std::uint64_t content_hash = 0;
        bool done = false;
        std::string reply;
    };

    std::size_t home(std::uint64_t key) const { return (key * 0x9E3779B97F4A7C15ULL) >> shift(); }
    unsigned shift() const { return 64 - static_cast<unsigned>(std::countr_zero(index_.size())); }
    std::size_t next(std::size_t i) const { return (i + 1) & (index_.size() - 1); }

    // The index bucket holding `key` (its value is ring position + 1), or nullptr.
    const std::size_t* find(std::uint64_t key) const {
        for (std::size_t i = home(key);; i = next(i)) {
            if (index_[i] == 0) return nullptr;
            if (ring_[index_[i] - 1].key == key) return &index_[i];
        }
    }
    void insert(std::uint64_t key, std::size_t value) {
        std::size_t i = home(key);
        while (index_[i] != 0) i = next(i);
        index_[i] = value;
    }
    // Backward-shift deletion: later entries of the probe run move into the gap, so no
    // tombstones pile up.
    void erase(std::uint64_t key) {
        std::size_t i = home(key);
        while (ring_[index_[i] - 1].key != key) i = next(i);
        for (std::size_t j = next(i);; j = next(j)) {
            if (index_[j] == 0) break;
            const std::size_t h = home(ring_[index_[j] - 1].key);
            // Move j into the gap at i unless its home lies cyclically in (i, j].
            const bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
            if (!stays) {
                index_[i] = index_[j];
                i = j;
            }
        }
        index_[i] = 0;
    }
    void evict_oldest() {
        SM_ASSERT(count_ > 0);
        Entry& e = ring_[first_];
        erase(e.key);
        bytes_ -= e.done ? e.reply.size() : 0;
        e.done = false;
        // Small buffers are kept for the entry that takes this place; a large one is freed, so
        // what the cache holds stays near bytes_max plus entries × reply_reuse_bytes_max.
        if (e.reply.capacity() > reply_reuse_bytes_max) std::string().swap(e.reply);
        first_ = (first_ + 1) & (ring_.size() - 1);
        --count_;
    }

    std::vector<Entry> ring_;  // FIFO: entries [first_, first_ + count_) are live
    std::vector<std::size_t> index_;
    std::size_t first_ = 0;
    std::size_t count_ = 0;
    std::size_t bytes_max_;
    std::size_t bytes_ = 0;
};

}  // namespace slotmatch::tools
