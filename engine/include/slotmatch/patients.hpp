// Per-patient state: the patient's active bookings, guarded by an atomic claim. Rules that span
// a patient's bookings (no two overlapping bookings) are checked while holding the claim, never
// by reading and then writing. The table is open addressing with a fixed capacity: inserting a
// patient is one CAS on the key, and nothing is allocated after start-up.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <slotmatch/assert.hpp>
#include <slotmatch/record_table.hpp>
#include <slotmatch/types.hpp>
#include <slotmatch/zeroed_memory.hpp>
#include <thread>

namespace slotmatch {

inline constexpr std::size_t patient_bookings_max = 16;  // active bookings per patient

struct PatientRecord {
    std::atomic<std::uint32_t> claim{0};
    // Below: read and written only while holding `claim`.
    std::uint32_t booking_count = 0;
    std::array<BookingId, patient_bookings_max> bookings{};
};

// Holds a patient's claim for its lifetime. Claims are held for a few compare-and-swaps, so a
// waiter spins briefly and then yields its core (never busy-spin next to ZeroMQ's thread).
class PatientClaim {
  public:
    explicit PatientClaim(PatientRecord& p) : p_(p) {
        for (unsigned spins = 0;; ++spins) {
            std::uint32_t expected = 0;
            if (p_.claim.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
                return;
            }
            if (spins > 64) std::this_thread::yield();
        }
    }
    ~PatientClaim() { p_.claim.store(0, std::memory_order_release); }
    PatientClaim(const PatientClaim&) = delete;
    PatientClaim& operator=(const PatientClaim&) = delete;

  private:
    PatientRecord& p_;
};

class PatientTable {
  public:
    explicit PatientTable(std::size_t capacity_pow2)
        : mask_(capacity_pow2 - 1),
          keys_(capacity_pow2),
          records_(capacity_pow2),
          pool_(capacity_pow2) {
        SM_ASSERT(capacity_pow2 >= 2 && (capacity_pow2 & mask_) == 0);
    }

    // The patient's record, created on first use; nullptr when the table is full.
    PatientRecord* get_or_create(PatientKey key) { return probe(key, true); }
    PatientRecord* find(PatientKey key) const {
        return const_cast<PatientTable*>(this)->probe(key, false);
    }
    std::size_t capacity() const { return mask_ + 1; }

  private:
    static std::uint64_t hash(std::uint64_t k) {
        k ^= k >> 33;  // murmur3 finaliser: personnummer digits cluster
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        return k;
    }
    PatientRecord* probe(PatientKey key, bool create) {
        SM_ASSERT(key.value != 0);
        for (std::size_t n = 0, i = hash(key.value) & mask_; n <= mask_; ++n, i = (i + 1) & mask_) {
            std::uint64_t k = keys_[i].load(std::memory_order_acquire);
            if (k == 0) {
                if (!create) return nullptr;
                if (!keys_[i].compare_exchange_strong(k, key.value, std::memory_order_acq_rel)) {
                    if (k != key.value) continue;  // another patient took this cell
                    return wait_record(i);
                }
                auto idx = pool_.allocate();
                SM_ASSERT(idx.has_value());  // pool capacity equals the table's
                records_[i].store(&pool_[*idx], std::memory_order_release);
                return &pool_[*idx];
            }
            if (k == key.value) return wait_record(i);
        }
        return nullptr;
    }
    // The cell's key is set a moment before its record pointer.
    PatientRecord* wait_record(std::size_t i) {
        PatientRecord* r;
        while ((r = records_[i].load(std::memory_order_acquire)) == nullptr)
            std::this_thread::yield();
        return r;
    }

    const std::size_t mask_;
    ZeroedArray<std::atomic<std::uint64_t>> keys_;      // 0 = empty cell
    ZeroedArray<std::atomic<PatientRecord*>> records_;  // null until the key's record is set
    RecordTable<PatientRecord> pool_;
};

}  // namespace slotmatch
