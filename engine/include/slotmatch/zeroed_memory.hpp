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

template <typename T>
class ZeroedArray {
    static_assert(std::is_trivially_destructible_v<T>, "elements are never destroyed");

  public:
    explicit ZeroedArray(std::size_t n) : n_(n) {
        SM_ASSERT(n > 0);
        void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        SM_ASSERT(p != MAP_FAILED);
        data_ = static_cast<T*>(p);
    }
    ~ZeroedArray() { munmap(data_, bytes()); }
    // Drops every element and reserves `n` zeroed ones again (the old references die).
    void reset(std::size_t n) {
        SM_ASSERT(n > 0);
        munmap(data_, bytes());
        n_ = n;
        void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        SM_ASSERT(p != MAP_FAILED);
        data_ = static_cast<T*>(p);
    }
    ZeroedArray(const ZeroedArray&) = delete;
    ZeroedArray& operator=(const ZeroedArray&) = delete;

    T& operator[](std::size_t i) { return data_[i]; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    std::size_t size() const { return n_; }

  private:
    std::size_t bytes() const { return n_ * sizeof(T); }
    std::size_t n_;
    T* data_ = nullptr;
};

}  // namespace slotmatch
