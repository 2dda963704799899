// The bounded outbound event buffer: a multi-producer ring (Vyukov's bounded queue) with a
// reservation counter in front of it. An operation reserves room for its events *before* it
// changes anything; when the ring is full the reservation fails and the operation is refused
// with OVERLOADED, having changed nothing. A successful reservation guarantees that publish()
// finds a free cell, so a state change is never followed by a lost event.
//
// The ring position a producer takes is the event's sequence number, so the consumer drains
// events in sequence order with no gaps.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <slotmatch/assert.hpp>
#include <slotmatch/events.hpp>
#include <span>
#include <thread>

namespace slotmatch {

class EventRing {
  public:
    explicit EventRing(std::size_t capacity_pow2, std::uint64_t first_seq = 1)
        : capacity_(capacity_pow2),
          mask_(capacity_pow2 - 1),
          first_seq_(first_seq),
          cells_(new Cell[capacity_pow2]) {
        SM_ASSERT(capacity_pow2 >= 2 && (capacity_pow2 & mask_) == 0);
        for (std::size_t i = 0; i < capacity_; ++i)
            cells_[i].turn.store(i, std::memory_order_relaxed);
    }

    // Room for n events, or false when the consumer is behind (back-pressure).
    bool try_reserve(std::size_t n) {
        std::size_t before = reserved_.fetch_add(n, std::memory_order_acq_rel);
        if (before + n <= capacity_) return true;
        reserved_.fetch_sub(n, std::memory_order_acq_rel);
        return false;
    }
    // Gives back reserved room that was not used (the operation was refused).
    void unreserve(std::size_t n) { reserved_.fetch_sub(n, std::memory_order_acq_rel); }

    // Publishes one reserved event and returns its sequence number.
    std::uint64_t publish(const Event& e) {
        std::uint64_t pos = head_.fetch_add(1, std::memory_order_relaxed);
        Cell& cell = cells_[pos & mask_];
        // The reservation guarantees the consumer has released this cell; wait only for the
        // release store to become visible.
        while (cell.turn.load(std::memory_order_acquire) != pos) std::this_thread::yield();
        cell.event = e;
        cell.event.seq = first_seq_ + pos;
        cell.turn.store(pos + 1, std::memory_order_release);
        return first_seq_ + pos;
    }

    // Single consumer: moves up to out.size() events, in sequence order, and frees their room.
    std::size_t drain(std::span<Event> out) {
        std::size_t n = 0;
        while (n < out.size()) {
            Cell& cell = cells_[tail_ & mask_];
            if (cell.turn.load(std::memory_order_acquire) != tail_ + 1) break;  // not yet written
            out[n++] = cell.event;
            cell.turn.store(tail_ + capacity_, std::memory_order_release);
            ++tail_;
        }
        if (n > 0) reserved_.fetch_sub(n, std::memory_order_acq_rel);
        return n;
    }

    std::size_t capacity() const { return capacity_; }
    std::size_t pending() const { return reserved_.load(std::memory_order_acquire); }
    std::uint64_t next_seq() const { return first_seq_ + head_.load(std::memory_order_acquire); }

  private:
    struct Cell {
        std::atomic<std::uint64_t> turn{0};
        Event event;
    };
    const std::size_t capacity_;
    const std::size_t mask_;
    const std::uint64_t first_seq_;
    std::unique_ptr<Cell[]> cells_;
    // Producers and the consumer each get their own cache line (false sharing).
    alignas(64) std::atomic<std::uint64_t> head_{0};
    alignas(64) std::atomic<std::size_t> reserved_{0};
    alignas(64) std::uint64_t tail_ = 0;
};

}  // namespace slotmatch
