// A linearizability checker for concurrent histories of booking operations, after Wing & Gong
// with Lowe's memoisation (the approach of Porcupine). Operations are first split per slot (P-
// compositionality): a booking op on one slot is one "take" or "release" of that slot; a rebook
// is a release of its source and a take of its target, each somewhere inside the rebook's
// interval. Each slot's sub-history must then be explained by some sequential order that keeps
// every operation between its invoke and its return and that the slot model accepts:
//
//   free      --take(b) ok-->            booked(b)
//   booked(x) --take fails (reserved)--> booked(x)
//   booked(b) --release(b) ok-->         free
//   not booked(b) --release(b) fails-->  unchanged
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_set>
#include <vector>

namespace slotmatch::testing {

struct SlotOp {
    enum class Kind : std::uint8_t { take, release } kind = Kind::take;
    bool ok = false;
    std::uint64_t booking = 0;  // take ok: the new booking; release: the booking released
    std::uint64_t invoke = 0;   // logical times from one shared counter
    std::uint64_t ret = 0;
};

// Checks one slot's history; the slot starts free.
class SlotHistoryChecker {
  public:
    explicit SlotHistoryChecker(std::vector<SlotOp> ops) : ops_(std::move(ops)) {
        std::sort(ops_.begin(), ops_.end(),
                  [](const SlotOp& a, const SlotOp& b) { return a.invoke < b.invoke; });
    }

    bool linearizable() {
        words_ = (ops_.size() + 63) / 64;
        std::vector<std::uint64_t> done(words_, 0);
        return search(done, 0, 0);
    }

  private:
    // state: 0 = free, else the booking that holds the slot.
    bool search(std::vector<std::uint64_t>& done, std::size_t count, std::uint64_t state) {
        if (count == ops_.size()) return true;
        if (!seen_.insert(key(done, state)).second) return false;  // explored before
        // The earliest return among pending ops bounds which ops may go next: an op invoked
        // after some pending op returned cannot be linearized before it.
        std::uint64_t horizon = UINT64_MAX;
        for (std::size_t i = 0; i < ops_.size(); ++i) {
            if (!is_done(done, i)) horizon = std::min(horizon, ops_[i].ret);
        }
        for (std::size_t i = 0; i < ops_.size(); ++i) {
            if (is_done(done, i) || ops_[i].invoke > horizon) continue;
            auto next = apply(ops_[i], state);
            if (!next) continue;
            set_done(done, i, true);
            if (search(done, count + 1, *next)) return true;
            set_done(done, i, false);
        }
        return false;
    }
    static std::optional<std::uint64_t> apply(const SlotOp& op, std::uint64_t state) {
        if (op.kind == SlotOp::Kind::take) {
            if (op.ok) return state == 0 ? std::optional<std::uint64_t>(op.booking) : std::nullopt;
            return state != 0 ? std::optional<std::uint64_t>(state) : std::nullopt;
        }
        if (op.ok) return state == op.booking ? std::optional<std::uint64_t>(0) : std::nullopt;
        return state != op.booking ? std::optional<std::uint64_t>(state) : std::nullopt;
    }
    bool is_done(const std::vector<std::uint64_t>& d, std::size_t i) const {
        return (d[i / 64] >> (i % 64)) & 1U;
    }
    static void set_done(std::vector<std::uint64_t>& d, std::size_t i, bool v) {
        if (v) {
            d[i / 64] |= std::uint64_t{1} << (i % 64);
        } else {
            d[i / 64] &= ~(std::uint64_t{1} << (i % 64));
        }
    }
    std::vector<std::uint64_t> key(const std::vector<std::uint64_t>& done,
                                   std::uint64_t state) const {
        std::vector<std::uint64_t> k(done);
        k.push_back(state);
        return k;
    }
    struct KeyHash {
        std::size_t operator()(const std::vector<std::uint64_t>& k) const {
            std::uint64_t h = 1469598103934665603ULL;
            for (std::uint64_t w : k) h = (h ^ w) * 1099511628211ULL;
            return h;
        }
    };

    std::vector<SlotOp> ops_;
    std::size_t words_ = 0;
    std::unordered_set<std::vector<std::uint64_t>, KeyHash> seen_;
};

// A history over many slots, checked slot by slot.
class History {
  public:
    void add(std::uint32_t slot, const SlotOp& op) { per_slot_[slot].push_back(op); }
    // The slots whose sub-history no sequential order explains (empty: linearizable).
    std::vector<std::uint32_t> violations() const {
        std::vector<std::uint32_t> bad;
        for (const auto& [slot, ops] : per_slot_) {
            if (!SlotHistoryChecker(ops).linearizable()) bad.push_back(slot);
        }
        return bad;
    }
    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& [slot, ops] : per_slot_) n += ops.size();
        return n;
    }

  private:
    std::map<std::uint32_t, std::vector<SlotOp>> per_slot_;
};

}  // namespace slotmatch::testing
