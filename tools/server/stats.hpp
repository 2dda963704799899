// Server counters: operations by kind and outcome, and a latency histogram. Written by the
// server's threads with relaxed atomics (each counter has one writer at a time or is a plain
// tally), read at any time by the `stats` operation.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <slotmatch/types.hpp>
#include <string_view>

namespace slotmatch::tools {

enum class OpKind : std::uint8_t {
    find,
    hold,
    book,
    rebook,
    cancel,
    bookings,
    block,
    unblock,
    waitlist_add,
    waitlist_list,
    catalog,
    stats,
    set_clock,
    log,
    audit,
    publish_schedule,
    extend_schedule,
    end_schedule,
    add_slot,
    set_slot_type,
    remove_slot,
    set_type,
    remove_type,
    set_unit,
    waitlist_remove,
    booking,
    add_type,
};
inline constexpr std::size_t op_kind_count = 27;
inline constexpr std::size_t outcome_count = 14;  // ErrorCode::ok .. patient_already_occupied
std::string_view to_string(OpKind k);

struct OpCounters {
    std::array<std::array<std::atomic<std::uint64_t>, outcome_count>, op_kind_count> n{};

    void count(OpKind op, ErrorCode outcome) {
        n[static_cast<std::size_t>(op)][static_cast<std::size_t>(outcome)].fetch_add(
            1, std::memory_order_relaxed);
    }
};

// Log-linear buckets (HdrHistogram's idea): exact below 64 ns, then 32 buckets per power of
// two, so any percentile is within about 3 % of the true value.
class LatencyHistogram {
  public:
    void record_ns(std::uint64_t ns) {
        buckets_[index(ns)].fetch_add(1, std::memory_order_relaxed);
        std::uint64_t max = max_ns_.load(std::memory_order_relaxed);
        while (ns > max && !max_ns_.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
        }
    }
    // The value at quantile q (0..1) in nanoseconds; 0 when empty.
    double quantile_ns(double q) const {
        std::uint64_t total = 0;
        for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
        if (total == 0) return 0;
        const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            seen += buckets_[i].load(std::memory_order_relaxed);
            if (seen >= rank) return static_cast<double>(upper(i));
        }
        return static_cast<double>(max_ns());
    }
    std::uint64_t max_ns() const { return max_ns_.load(std::memory_order_relaxed); }

  private:
    static constexpr unsigned sub_bits = 5;
    static constexpr std::size_t bucket_count = 64 + (64 - sub_bits) * (1u << sub_bits);
    static std::size_t index(std::uint64_t v) {
        if (v < 64) return v;
        const unsigned e = static_cast<unsigned>(std::bit_width(v)) - (sub_bits + 1);
        return 64 + (e - 1) * (1u << sub_bits) + ((v >> e) - (1u << sub_bits));
    }
    // The largest value a bucket holds.
    static std::uint64_t upper(std::size_t i) {
        if (i < 64) return i;
        const std::size_t e = (i - 64) / (1u << sub_bits) + 1;
        const std::size_t sub = (i - 64) % (1u << sub_bits) + (1u << sub_bits);
        return ((sub + 1) << e) - 1;
    }
    std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
    std::atomic<std::uint64_t> max_ns_{0};
};

}  // namespace slotmatch::tools
