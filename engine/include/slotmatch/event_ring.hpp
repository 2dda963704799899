// The bounded outbound event buffer: a fixed set of single-producer lanes and one consumer (the
// journal's drain) that takes events from all of them and numbers them. An operation claims a
// lane for its duration (one uncontended exchange on a lane its thread prefers), so threads
// booking in parallel write to different lanes and do not share cache lines here (the design
// note's "each worker writes into its own ring"); a lane has one producer at a time.
//
// An operation reserves room for its events *before* it changes anything; when its lane is
// full the reservation fails and the operation is refused with OVERLOADED, having changed
// nothing. A successful reservation guarantees that publish() finds room, so a state change is
// never followed by a lost event. Events are written in place in the lane (next(), then
// commit()), so a booking copies its event once.
//
// Sequence numbers are given at drain time and are strictly increasing with no gaps. Events of
// one lane keep their order; lanes are interleaved, so the changes of one slot made by
// different threads are ordered by the slot version each event carries (see docs/engine.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <slotmatch/assert.hpp>
#include <slotmatch/cache_line.hpp>
#include <slotmatch/events.hpp>
#include <slotmatch/zeroed_memory.hpp>
#include <span>
#include <thread>
#include <vector>

namespace slotmatch {

class EventRings {
  public:
    class Lane {
      public:
        Lane(std::size_t capacity, std::size_t index)
            : cells_(capacity), mask_(capacity - 1), index_(index) {
            // The producer's fields share one line, apart from the consumer's and from the
            // read-only ones both sides read.
            static_assert(alignof(Lane) == cache_line_bytes);
            static_assert(cache_line_of(offsetof(Lane, busy_)) >
                          cache_line_of(offsetof(Lane, index_) + sizeof(index_) - 1));
            static_assert(cache_line_of(offsetof(Lane, reserved_) + sizeof(reserved_) - 1) ==
                          cache_line_of(offsetof(Lane, busy_)));
            static_assert(cache_line_of(offsetof(Lane, tail_)) >
                          cache_line_of(offsetof(Lane, reserved_) + sizeof(reserved_) - 1));
        }
        std::size_t index() const { return index_; }
        // Room for n more events, or false when the consumer is behind.
        bool try_reserve(std::size_t n) {
            const std::uint64_t tail = tail_.load(std::memory_order_acquire);
            const std::uint64_t head = head_.load(std::memory_order_relaxed);
            if (head + reserved_ + n - tail > cells_.size()) return false;
            reserved_ += n;
            return true;
        }
        void unreserve(std::size_t n) {
            SM_ASSERT(reserved_ >= n);
            reserved_ -= n;
        }
        // The next reserved cell, emptied, for the producer to fill in place; the consumer
        // does not see it until commit().
        Event& next() {
            SM_ASSERT(reserved_ > 0);
            Event& cell = cells_[head_.load(std::memory_order_relaxed) & mask_];
            cell = Event{};
            return cell;
        }
        void commit() {
            SM_ASSERT(reserved_ > 0);
            --reserved_;
            head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        }

      private:
        friend class EventRings;
        ZeroedArray<Event> cells_;
        const std::size_t mask_;
        const std::size_t index_;
        // The producer's line: the claim, head and the producer-only reservation count.
        alignas(cache_line_bytes) std::atomic<bool> busy_{false};
        std::atomic<std::uint64_t> head_{0};
        std::uint64_t reserved_ = 0;
        // The consumer's line.
        alignas(cache_line_bytes) std::atomic<std::uint64_t> tail_{0};
    };

    // `lanes` lanes of `lane_capacity_pow2` events each.
    EventRings(std::size_t lane_capacity_pow2, std::size_t lanes, std::uint64_t first_seq = 1)
        : next_seq_(first_seq) {
        SM_ASSERT(lane_capacity_pow2 >= 2 && (lane_capacity_pow2 & (lane_capacity_pow2 - 1)) == 0);
        SM_ASSERT(lanes > 0);
        for (std::size_t i = 0; i < lanes; ++i) {
            lanes_.push_back(std::make_unique<Lane>(lane_capacity_pow2, i));
        }
    }
    EventRings(const EventRings&) = delete;
    EventRings& operator=(const EventRings&) = delete;

    // A lane for one operation, starting with the one this thread prefers; nullptr if every
    // lane stays busy (more operations in flight than lanes).
    Lane* claim() {
        thread_local const std::size_t preferred = next_preference().fetch_add(1);
        for (unsigned attempt = 0; attempt < claim_attempts_max; ++attempt) {
            for (std::size_t i = 0; i < lanes_.size(); ++i) {
                Lane& lane = *lanes_[(preferred + i) % lanes_.size()];
                if (!lane.busy_.load(std::memory_order_relaxed) &&
                    !lane.busy_.exchange(true, std::memory_order_acquire)) {
                    return &lane;
                }
            }
            std::this_thread::yield();
        }
        return nullptr;
    }
    void release(Lane* lane) { lane->busy_.store(false, std::memory_order_release); }
    // One particular lane if it is free right now (no waiting), else nullptr.
    Lane* try_claim(std::size_t i) {
        Lane& lane = *lanes_[i];
        if (lane.busy_.load(std::memory_order_relaxed) ||
            lane.busy_.exchange(true, std::memory_order_acquire)) {
            return nullptr;
        }
        return &lane;
    }
    std::size_t lane_count() const { return lanes_.size(); }
    // The number the next drained event gets (the consumer's; the journal checks its store
    // continues from here).
    std::uint64_t next_seq() const { return next_seq_; }
    // Recovery: numbering continues after the stored events (before anything is published).
    void continue_from(std::uint64_t next) { next_seq_ = next; }
    // How many events lane `l` has had published, and (the consumer's view) drained: an event
    // published before published(l) was read has been drained once drained(l) reaches it.
    std::uint64_t published(std::size_t l) const {
        return lanes_[l]->head_.load(std::memory_order_acquire);
    }
    std::uint64_t drained(std::size_t l) const {
        return lanes_[l]->tail_.load(std::memory_order_relaxed);
    }

    // The single consumer: moves up to out.size() events, lane by lane, numbering them.
    std::size_t drain(std::span<Event> out) {
        std::size_t n = 0;
        for (std::size_t l = 0; l < lanes_.size() && n < out.size(); ++l) {
            Lane& lane = *lanes_[l];
            std::uint64_t tail = lane.tail_.load(std::memory_order_relaxed);
            const std::uint64_t head = lane.head_.load(std::memory_order_acquire);
            for (; tail < head && n < out.size(); ++tail) {
                out[n] = lane.cells_[tail & lane.mask_];
                out[n++].seq = next_seq_++;
            }
            lane.tail_.store(tail, std::memory_order_release);
        }
        return n;
    }

  private:
    static constexpr unsigned claim_attempts_max = 64;
    static std::atomic<std::size_t>& next_preference() {
        static std::atomic<std::size_t> next{0};
        return next;
    }

    std::vector<std::unique_ptr<Lane>> lanes_;
    std::uint64_t next_seq_;  // the consumer's
};

}  // namespace slotmatch
