// The start-up's loops on every core (oneTBB), shared by the index's layout (slot_index.cpp)
// and the state fingerprint (engine_restore.cpp).
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstddef>
#include <utility>

namespace slotmatch {

// Runs `work`, whose loops are oneTBB's, on every core. ThreadSanitizer cannot see oneTBB's own
// synchronisation (Debian's libtbb is not built for it) and takes its hand-offs for races, so
// a TSan build runs them on one thread.
template <class Work>
auto on_every_core(Work&& work) {
#if defined(__SANITIZE_THREAD__)
    tbb::task_arena arena(1);
#else
    tbb::task_arena arena;
#endif
    return arena.execute(std::forward<Work>(work));
}

// Calls f(i) for every i below n: in oneTBB's loop when `parallel` (inside on_every_core), else
// here, in order. A live publication (a schedule, the days an extension adds, one slot) is
// small: it stays on the request's thread and wakes no worker.
template <class F>
void each_index(std::size_t n, bool parallel, F&& f) {
    if (!parallel) {
        for (std::size_t i = 0; i < n; ++i) f(i);
        return;
    }
    using Range = tbb::blocked_range<std::size_t>;
    tbb::parallel_for(Range(0, n), [&](const Range& r) {
        for (std::size_t i = r.begin(); i != r.end(); ++i) f(i);
    });
}

}  // namespace slotmatch
