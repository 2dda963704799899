// An append-only table of records addressed by a 64-bit index. The whole capacity is reserved
// at start-up as zeroed memory (see zeroed_memory.hpp), so a record never moves once handed out
// and allocate() is one fetch_add, never a heap allocation. A record's empty state is all-zero
// bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <slotmatch/assert.hpp>
#include <slotmatch/zeroed_memory.hpp>

namespace slotmatch {

template <typename T>
class RecordTable {
  public:
    explicit RecordTable(std::uint64_t capacity)
        : records_(capacity), serial_(next_serial().fetch_add(1, std::memory_order_relaxed)) {}
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
        if (i >= records_.size()) return std::nullopt;
        return i;
    }

    // Takes back an index whose record was never published (an attempt that was refused or
    // lost its race), so this thread's next allocate() reuses it: refusals cost no capacity.
    // One spare per thread; the record keeps its old field values until it is filled again.
    void give_back(std::uint64_t i) { this_thread_spare() = Spare{serial_, i}; }

    T& operator[](std::uint64_t i) { return records_[i]; }
    const T& operator[](std::uint64_t i) const { return records_[i]; }
    // Indices handed out so far (records there may still be being filled: check their flag).
    std::uint64_t handed_out() const {
        std::uint64_t n = next_.load(std::memory_order_acquire);
        return n < records_.size() ? n : records_.size();
    }
    std::uint64_t capacity() const { return records_.size(); }

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

    ZeroedArray<T> records_;
    const std::uint64_t serial_;
    alignas(64) std::atomic<std::uint64_t> next_{0};  // own cache line: every allocation hits it
};

}  // namespace slotmatch
