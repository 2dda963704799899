// No heap allocation on the booking paths after warm-up (TigerBeetle's rule). This binary
// replaces the global operator new and delete with counting versions; the test counts what
// book, rebook and cancel allocate once the region, its patients and the time-zone data are
// warm, and requires zero.
#include <atomic>
#include <cstdlib>
#include <new>

#include "../engine_fixture.hpp"

namespace {

std::atomic<long> allocations{0};
thread_local bool counting = false;

void* counted(std::size_t n) {
    if (counting) allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void* counted_aligned(std::size_t n, std::align_val_t a) {
    if (counting) allocations.fetch_add(1, std::memory_order_relaxed);
    const std::size_t align = static_cast<std::size_t>(a);
    if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
    throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) {
    return counted(n);
}
void* operator new[](std::size_t n) {
    return counted(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n, std::align_val_t a) {
    return counted_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return counted_aligned(n, a);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

namespace slotmatch::testing {
namespace {

class NoAllocation : public RuleRegion {
  protected:
    // One round: 40 citizens each book a slot, move it to another, and cancel it.
    long round(bool count) {
        const long before = allocations.load();
        counting = count;
        for (int i = 0; i < 40; ++i) {
            const SlotId from{first_.value + static_cast<std::uint32_t>(i)};
            const SlotId to{first_.value + static_cast<std::uint32_t>(i) + 40};
            auto b = book(web(), from, patient(i));
            auto r = rebook(web(), b.value.id, to, patient(i));
            auto c = engine->cancel(web(), r.value.booking.id, patient(i));
            if (!b.ok() || !r.ok() || !c.ok()) {
                counting = false;
                ADD_FAILURE() << "a booking step was refused at " << i;
                return -1;
            }
        }
        counting = false;
        drain_events();
        return allocations.load() - before;
    }
    SlotId first_;
};

TEST_F(NoAllocation, BookRebookAndCancelAllocateNothingAfterWarmUp) {
    first_ = slot("r1", "all3", "2026-03-03T08:00");  // 80 slots of r1/all3 from here
    ASSERT_GE(round(false), 0);                       // warm-up: patients, time zone, tables
    EXPECT_EQ(round(true), 0);
    EXPECT_EQ(round(true), 0);
}

TEST_F(NoAllocation, TheCounterSeesAllocations) {
    counting = true;
    auto* p = new int(7);
    counting = false;
    delete p;
    EXPECT_GE(allocations.load(), 1);
}

}  // namespace
}  // namespace slotmatch::testing
