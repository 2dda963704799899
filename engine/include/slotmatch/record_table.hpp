// An append-only table of records addressed by a 64-bit index, grown in chunks so that a record
// never moves once handed out (other threads hold references to it). Allocation is one
// fetch_add; a chunk is allocated when the first index in it is handed out (pre-allocate with
// reserve() to keep the hot path free of heap allocation).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <slotmatch/assert.hpp>
#include <vector>

namespace slotmatch {

template <typename T, unsigned ChunkBits = 12>
class RecordTable {
  public:
    static constexpr std::uint64_t chunk_records = std::uint64_t{1} << ChunkBits;
    static constexpr std::uint64_t chunk_mask = chunk_records - 1;

    explicit RecordTable(std::uint64_t capacity)
        : capacity_(capacity),
          serial_(next_serial().fetch_add(1, std::memory_order_relaxed)),
          chunks_((capacity + chunk_records - 1) / chunk_records) {
        SM_ASSERT(capacity > 0);
    }
    ~RecordTable() {
        for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
    }
    RecordTable(const RecordTable&) = delete;
    RecordTable& operator=(const RecordTable&) = delete;

    // A fresh index, or nothing when the table is full (the caller refuses with OVERLOADED).
    std::optional<std::uint64_t> allocate() {
        Spare& spare = this_thread_spare();
        if (spare.table == serial_) {
            spare.table = 0;
            return spare.index;
        }
        std::uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
        if (i >= capacity_) return std::nullopt;
        install_chunk(i >> ChunkBits);
        return i;
    }

    // Takes back an index whose record was never published (an attempt that was refused or
    // lost its race), so this thread's next allocate() reuses it: refusals cost no capacity.
    // One spare per thread; the record keeps its old field values until it is filled again.
    void give_back(std::uint64_t i) { this_thread_spare() = Spare{serial_, i}; }

    // Pre-allocates the chunks for the first n records.
    void reserve(std::uint64_t n) {
        for (std::uint64_t c = 0; c < chunks_.size() && c * chunk_records < n; ++c)
            install_chunk(c);
    }

    // Only for an index returned by allocate() (or below handed_out(), after checking has()).
    T& operator[](std::uint64_t i) {
        return chunks_[i >> ChunkBits].load(std::memory_order_acquire)[i & chunk_mask];
    }
    const T& operator[](std::uint64_t i) const {
        return chunks_[i >> ChunkBits].load(std::memory_order_acquire)[i & chunk_mask];
    }
    // Whether index i is backed by memory (a scanner may race an allocation in progress).
    bool has(std::uint64_t i) const {
        return i < capacity_ && chunks_[i >> ChunkBits].load(std::memory_order_acquire) != nullptr;
    }
    // Indices handed out so far (records there may still be being filled: check their flag).
    std::uint64_t handed_out() const {
        std::uint64_t n = next_.load(std::memory_order_acquire);
        return n < capacity_ ? n : capacity_;
    }
    std::uint64_t capacity() const { return capacity_; }

  private:
    struct Spare {
        std::uint64_t table = 0;  // serial of the table the index belongs to; 0 = none
        std::uint64_t index = 0;
    };
    static Spare& this_thread_spare() {
        thread_local Spare spare;
        return spare;
    }
    // Serials, not addresses, name tables: a new table may reuse a dead one's address.
    static std::atomic<std::uint64_t>& next_serial() {
        static std::atomic<std::uint64_t> serial{1};
        return serial;
    }

    void install_chunk(std::uint64_t c) {
        if (chunks_[c].load(std::memory_order_acquire) != nullptr) return;
        T* fresh = new T[chunk_records]();
        T* expected = nullptr;
        if (!chunks_[c].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
            delete[] fresh;  // another thread installed it first
        }
    }

    const std::uint64_t capacity_;
    const std::uint64_t serial_;
    std::vector<std::atomic<T*>> chunks_;
    alignas(64) std::atomic<std::uint64_t> next_{0};  // own cache line: every allocation hits it
};

}  // namespace slotmatch
