// A table of records addressed by a 64-bit index. The whole capacity is reserved at start-up as
// zeroed memory (see zeroed_memory.hpp), so a record never moves once handed out and allocate()
// never allocates from the heap. Records the owner is done with come back through release() (a
// lock-free stack, tagged against ABA) and are handed out again first, so a running engine
// keeps reusing warm memory. A record's empty state is all-zero
// bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <slotmatch/assert.hpp>
#include <slotmatch/cache_line.hpp>
#include <slotmatch/zeroed_memory.hpp>

namespace slotmatch {

template <typename T>
class RecordTable {
  public:
    explicit RecordTable(std::uint64_t capacity) : records_(capacity), links_(capacity) {
        // The two counters every allocation and release write: each on its own line, and off
        // the line of the array pointers every lookup reads.
        static_assert(alignof(RecordTable) == cache_line_bytes);
        static_assert(cache_line_of(offsetof(RecordTable, released_head_)) >
                      cache_line_of(offsetof(RecordTable, links_) + sizeof(links_) - 1));
        static_assert(
            cache_line_of(offsetof(RecordTable, next_)) >
            cache_line_of(offsetof(RecordTable, released_head_) + sizeof(released_head_) - 1));
        SM_ASSERT(capacity < index_mask);
    }
    // What one record takes once used: itself and its link in the released stack.
    static constexpr std::size_t bytes_per_record = sizeof(T) + sizeof(std::atomic<std::uint64_t>);

    RecordTable(const RecordTable&) = delete;
    RecordTable& operator=(const RecordTable&) = delete;

    // A free index, or nothing when the table is full (the caller refuses with OVERLOADED).
    // Records released by anyone come first, then fresh ones.
    std::optional<std::uint64_t> allocate() {
        if (auto reused = pop_released()) return reused;
        std::uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
        if (i >= records_.size()) return std::nullopt;
        return i;
    }

    // Returns a record for anyone to reuse: one never published, or one whose life has ended.
    // The caller guarantees that no one can reach the record any more except through checks
    // that detect reuse (generations).
    void release(std::uint64_t i) {
        std::uint64_t head = released_head_.load(std::memory_order_acquire);
        for (;;) {
            links_[i].store(head & index_mask, std::memory_order_relaxed);
            const std::uint64_t tagged = ((head >> index_bits) + 1) << index_bits | (i + 1);
            if (released_head_.compare_exchange_weak(head, tagged, std::memory_order_acq_rel)) {
                return;
            }
        }
    }

    // Recovery, on a table nothing has been taken from yet: indices below n count as handed
    // out (the caller fills those in use and release()s the others).
    void skip_to(std::uint64_t n) {
        SM_ASSERT(next_.load(std::memory_order_relaxed) == 0 && n <= records_.size());
        next_.store(n, std::memory_order_release);
    }

    T& operator[](std::uint64_t i) { return records_[i]; }
    const T& operator[](std::uint64_t i) const { return records_[i]; }
    // Indices handed out so far (records there may still be being filled: check their flag).
    std::uint64_t handed_out() const {
        std::uint64_t n = next_.load(std::memory_order_acquire);
        return n < records_.size() ? n : records_.size();
    }
    std::uint64_t capacity() const { return records_.size(); }

  private:
    static constexpr unsigned index_bits = 40;  // index + 1; the high 24 bits count pushes
    static constexpr std::uint64_t index_mask = (std::uint64_t{1} << index_bits) - 1;

    std::optional<std::uint64_t> pop_released() {
        std::uint64_t head = released_head_.load(std::memory_order_acquire);
        while ((head & index_mask) != 0) {
            const std::uint64_t i = (head & index_mask) - 1;
            const std::uint64_t next = links_[i].load(std::memory_order_relaxed);
            const std::uint64_t tagged = ((head >> index_bits) + 1) << index_bits | next;
            if (released_head_.compare_exchange_weak(head, tagged, std::memory_order_acq_rel)) {
                return i;
            }
        }
        return std::nullopt;
    }

    ZeroedArray<T> records_;
    ZeroedArray<std::atomic<std::uint64_t>> links_;  // released stack: next index + 1, 0 = end
    // Own cache lines: every release and reuse CASes the head, every fresh allocation bumps next_.
    alignas(cache_line_bytes) std::atomic<std::uint64_t> released_head_{0};
    alignas(cache_line_bytes) std::atomic<std::uint64_t> next_{0};
};

}  // namespace slotmatch
