// Arrays reserved whole at start-up from zero-filled anonymous memory: nothing is allocated on
// the hot path afterwards (TigerBeetle's static allocation), and the kernel makes a page
// resident only when it is first touched, so capacity sized for the whole region costs memory
// only as it is used. The element type's empty state must be all-zero bytes (its atomics zero,
// its flags false, its enums at their zero member), and it is never destroyed.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <slotmatch/assert.hpp>
#include <type_traits>

namespace slotmatch {

// How an array's elements are used. sparse: here and there (a table with room for every
// booking at once), so each 4 KiB page becomes resident on its own. dense: from the front, all
// of them (the slot table, written whole at the start), so the kernel is asked for 2 MiB
// transparent huge pages: a national region's 740 MB slot table is 370 first touches instead of
// 180,000, and on a virtual machine the touch, not the zeroing, is what costs.
enum class Filling { sparse, dense };

template <typename T>
class ZeroedArray {
    static_assert(std::is_trivially_destructible_v<T>, "elements are never destroyed");

  public:
    explicit ZeroedArray(std::size_t n, Filling filling = Filling::sparse)
        : filling_(filling) {
        map(n);
    }
    ~ZeroedArray() { munmap(data_, bytes()); }
    // Drops every element and reserves `n` zeroed ones again (the old references die).
    void reset(std::size_t n) {
        munmap(data_, bytes());
        map(n);
    }
    ZeroedArray(const ZeroedArray&) = delete;
    ZeroedArray& operator=(const ZeroedArray&) = delete;

    T& operator[](std::size_t i) { return data_[i]; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    std::size_t size() const { return n_; }

  private:
    void map(std::size_t n) {
        SM_ASSERT(n > 0);
        n_ = n;
        void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        SM_ASSERT(p != MAP_FAILED);
        // Advice only: a kernel without transparent huge pages (or with them off) says no.
        if (filling_ == Filling::dense) (void)madvise(p, bytes(), MADV_HUGEPAGE);
        data_ = static_cast<T*>(p);
    }
    std::size_t bytes() const { return n_ * sizeof(T); }
    Filling filling_;
    std::size_t n_ = 0;
    T* data_ = nullptr;
};

}  // namespace slotmatch
